"""The depth node over real DDS: node in its own process, test publisher/subscriber here."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from ros_harness import camera_info_msg, image_msg, rgb_image, set_parameters
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

from s2r_depth_ros.ros.live import (
    BEST_EFFORT,
    RELIABLE,
    NodeProcess,
    Peer,
    random_domain_id,
    stamp_ns,
)
from s2r_depth_ros.ros.settings import NodeSettings

OUTPUTS = {"/depth/image": Image, "/depth/camera_info": CameraInfo,
           "/depth/points": PointCloud2, "/depth/colorized": Image}


def float_image(msg: Image) -> np.ndarray:
    return np.frombuffer(bytes(msg.data), np.float32).reshape(msg.height, msg.width)


def cloud_array(msg: PointCloud2) -> np.ndarray:
    floats = msg.point_step // 4
    return np.frombuffer(bytes(msg.data), np.float32).reshape(msg.height, msg.width, floats)


class Session:
    """A node process plus a peer listening on every output."""

    def __init__(self, tmp_path, checkpoint, **params) -> None:
        self.domain = random_domain_id()
        base = {"model": str(checkpoint), "device": "cpu", "threads": 1}
        self.node = NodeProcess(self.domain, {**base, **params}, log_path=tmp_path / "node.log")
        self.peer = Peer(self.domain)
        for topic, msg_type in OUTPUTS.items():
            self.peer.listen(msg_type, topic)
        self.image_pub = self.peer.publisher(Image, "/image", RELIABLE)
        self.info_pub = self.peer.publisher(CameraInfo, "/camera_info", RELIABLE)

    def request(self, msg: Image, info: CameraInfo | None = None, topic: str = "/depth/image",
                timeout: float = 60.0):
        """Publish until an output with this frame's stamp arrives; return it (or None)."""
        want = stamp_ns(msg)

        def publish():
            if info is not None:
                self.info_pub.publish(info)
            self.image_pub.publish(msg)

        def answered():
            return any(stamp_ns(m) == want for m in list(self.peer.received[topic]))

        if not self.peer.publish_until(publish, answered, timeout=timeout):
            return None
        time.sleep(0.3)  # let the frame's other outputs arrive too
        return next(m for m in self.peer.received[topic] if stamp_ns(m) == want)

    def matching(self, topic: str, msg: Image):
        return [m for m in self.peer.received[topic] if stamp_ns(m) == stamp_ns(msg)]

    def close(self) -> int:
        self.peer.close()
        return self.node.stop()


@pytest.fixture(scope="module")
def session(tmp_path_factory, tiny_checkpoint):
    s = Session(tmp_path_factory.mktemp("node"), tiny_checkpoint, max_depth=40.0)
    yield s
    assert s.close() == 0, s.node.log()


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
def test_every_encoding_gives_depth_with_copied_header(session, encoding):
    rgb = rgb_image(120, 160, seed=1)
    msg = image_msg(rgb, encoding, stamp=1_000_000_000 + hash(encoding) % 10**6,
                    frame_id=f"cam_{encoding}")
    depth_msg = session.request(msg, camera_info_msg(160, 120))
    assert depth_msg is not None, session.node.log()
    assert depth_msg.encoding == "32FC1"
    assert depth_msg.header.frame_id == f"cam_{encoding}"
    assert (depth_msg.height, depth_msg.width, depth_msg.step) == (120, 160, 640)
    depth = float_image(depth_msg)
    finite = depth[np.isfinite(depth)]
    assert finite.size and finite.min() > 0 and finite.max() <= 40.0
    # Beyond max_depth is +inf ("too far", REP 117), never a made-up number; no NaN ("no
    # valid reading"): the default border_margin is 0, so every pixel is a reading.
    assert np.all(np.isfinite(depth) | np.isposinf(depth))
    colour = session.matching("/depth/colorized", msg)
    assert colour and colour[0].encoding == "bgr8"
    assert colour[0].header.frame_id == msg.header.frame_id


def test_colour_encodings_of_one_picture_agree(session):
    rgb = rgb_image(120, 160, seed=2)
    depths = []
    for i, encoding in enumerate(["rgb8", "bgr8", "bgra8"]):
        msg = image_msg(rgb, encoding, stamp=2_000_000_000 + i)
        reply = session.request(msg, camera_info_msg(160, 120))
        assert reply is not None
        depths.append(float_image(reply))
    assert np.array_equal(depths[0], depths[1], equal_nan=True)
    assert np.array_equal(depths[0], depths[2], equal_nan=True)


def test_point_cloud_layout_and_geometry_match_depth_and_camera_info(session):
    rgb = rgb_image(120, 160, seed=3)
    msg = image_msg(rgb, "rgb8", stamp=3_000_000_000)
    info = camera_info_msg(160, 120, fx=300.0, fy=280.0, cx=70.0, cy=65.0)
    depth_msg = session.request(msg, info, topic="/depth/points")
    assert depth_msg is not None
    cloud_msg = session.matching("/depth/points", msg)[0]
    depth = float_image(session.matching("/depth/image", msg)[0])
    out_info = session.matching("/depth/camera_info", msg)[0]
    assert [f.name for f in cloud_msg.fields] == ["x", "y", "z", "rgb"]
    assert [f.offset for f in cloud_msg.fields] == [0, 4, 8, 16]
    assert cloud_msg.point_step == 32 and (cloud_msg.height, cloud_msg.width) == (120, 160)
    assert cloud_msg.row_step == 32 * 160 and not cloud_msg.is_dense
    assert list(out_info.k) == list(info.k) and (out_info.width, out_info.height) == (160, 120)
    cloud = cloud_array(cloud_msg)
    valid = np.isfinite(depth)
    assert np.array_equal(np.isnan(cloud[:, :, 2]), ~valid)
    v, u = np.nonzero(valid)
    z = depth[valid]
    np.testing.assert_allclose(cloud[:, :, 2][valid], z, rtol=1e-6)
    np.testing.assert_allclose(cloud[:, :, 0][valid], (u - 70.0) * z / 300.0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cloud[:, :, 1][valid], (v - 65.0) * z / 280.0, rtol=1e-5, atol=1e-5)
    packed = cloud[:, :, 4].copy().view(np.uint32)
    assert packed[10, 20] == (int(rgb[10, 20, 0]) << 16) | (int(rgb[10, 20, 1]) << 8) | int(
        rgb[10, 20, 2])


def test_best_effort_publishers_are_served(session):
    publisher = session.peer.publisher(Image, "/image", BEST_EFFORT)
    msg = image_msg(rgb_image(120, 160, seed=4), "rgb8", stamp=4_000_000_000)
    want = stamp_ns(msg)
    ok = session.peer.publish_until(
        lambda: publisher.publish(msg),
        lambda: any(stamp_ns(m) == want for m in session.peer.received["/depth/image"]))
    assert ok


def test_raw_listener_reads_the_stamp_from_the_serialised_cloud(session):
    raw_peer = Peer(session.domain)
    try:
        raw_peer.listen(PointCloud2, "/depth/points", raw=True)
        msg = image_msg(rgb_image(120, 160, seed=9), "rgb8", stamp=12_345_000_000_789)
        want = stamp_ns(msg)
        assert raw_peer.publish_until(
            lambda: (session.info_pub.publish(camera_info_msg(160, 120)),
                     session.image_pub.publish(msg)),
            lambda: any(stamp_ns(m) == want for m in list(raw_peer.received["/depth/points"])))
        raw = next(m for m in raw_peer.received["/depth/points"] if stamp_ns(m) == want)
        assert isinstance(raw.data, bytes) and len(raw.data) > 120 * 160 * 32
    finally:
        raw_peer.close()


def test_diagnostics_report_latency_and_counters(session):
    session.peer.listen(DiagnosticArray, "/diagnostics")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not session.peer.received["/diagnostics"]:
        time.sleep(0.1)
    assert session.peer.received["/diagnostics"]
    values = {kv.key: kv.value for kv in session.peer.received["/diagnostics"][-1].status[0].values}
    assert int(values["frames_processed"]) >= 1
    assert "inference_ms_p50" in values and "latency_ms_p99" in values
    assert "frames_dropped" in values and "rate_hz" in values


def malformed_messages(rng: np.random.Generator, count: int):
    """Images that must be rejected: bad encodings, sizes, steps and truncated data."""
    for i in range(count):
        kind = i % 8
        h, w = int(rng.integers(1, 100)), int(rng.integers(1, 100))
        msg = Image(height=h, width=w, encoding="rgb8", step=w * 3)
        data = rng.integers(0, 255, size=h * w * 3, dtype=np.uint8).tobytes()
        if kind == 0:
            msg.encoding = rng.choice(["yuv422", "", "rgb16", "bayer_rggb8", "32FC1", "weird"])
        elif kind == 1:
            data = data[: int(rng.integers(0, len(data)))]
        elif kind == 2:
            msg.step = int(rng.integers(0, w * 3))
        elif kind == 3:
            msg.height = 0
        elif kind == 4:
            msg.width, msg.height = 100_000, 100_000
        elif kind == 5:
            msg.step = w * 3 + 1000
        elif kind == 6:
            data = b""
        else:
            msg.encoding = "mono8"
            msg.step = w
            data = data[: w * h - 1]
        msg.data = data
        msg.header.stamp.sec = 5
        msg.header.stamp.nanosec = i
        yield msg


def test_fuzzed_malformed_frames_are_rejected_and_node_keeps_serving(session):
    if "/diagnostics" not in session.peer.received:
        session.peer.listen(DiagnosticArray, "/diagnostics")
    # Connected first, so every malformed message is really delivered.
    warmup = image_msg(rgb_image(120, 160, seed=5), "rgb8", stamp=4_500_000_000)
    assert session.request(warmup, camera_info_msg(160, 120)) is not None
    rng = np.random.default_rng(7)
    bad_infos = [camera_info_msg(160, 120, fx=float("nan")), camera_info_msg(0, 0),
                 camera_info_msg(160, 120, fx=-1.0)]
    for bad_info in bad_infos:
        for k in range(len(bad_info.p)):
            bad_info.p[k] = 0.0 if k != 0 else bad_info.p[0]
    for i, msg in enumerate(malformed_messages(rng, 240)):
        session.image_pub.publish(msg)
        session.info_pub.publish(bad_infos[i % 3])
        time.sleep(0.01)
    time.sleep(1.0)
    assert session.node.alive()
    # Most of them really reached the decoder (a few may be replaced in the one-frame slot).
    session.peer.received["/diagnostics"].clear()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not session.peer.received["/diagnostics"]:
        time.sleep(0.1)
    values = {kv.key: kv.value for kv in session.peer.received["/diagnostics"][-1].status[0].values}
    assert int(values["frames_bad"]) >= 200, values
    assert not [m for m in session.peer.received["/depth/image"] if m.header.stamp.sec == 5]
    good = image_msg(rgb_image(120, 160, seed=5), "rgb8", stamp=6_000_000_000)
    assert session.request(good, camera_info_msg(160, 120)) is not None
    assert "skipping frame" in session.node.log()


def test_sigusr1_logs_every_thread_stack_and_the_node_keeps_serving(session):
    # What NodeProcess.stop does before killing a node that ignored Ctrl-C. Serving first:
    # before its start-up registers the handler, SIGUSR1 would end the process.
    ready = image_msg(rgb_image(120, 160, seed=8), "rgb8", stamp=6_900_000_000)
    assert session.request(ready, camera_info_msg(160, 120)) is not None
    session.node.proc.send_signal(signal.SIGUSR1)
    # The dump is written thread by thread: wait for the whole of it, not its first line.
    wanted = ("most recent call first", "_run_inference", "_run_publisher")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(w in session.node.log() for w in wanted):
        time.sleep(0.1)
    log = session.node.log()
    assert "most recent call first" in log
    assert "_run_inference" in log and "_run_publisher" in log  # the worker threads too
    msg = image_msg(rgb_image(120, 160, seed=8), "rgb8", stamp=7_000_000_000)
    assert session.request(msg, camera_info_msg(160, 120)) is not None


def test_a_native_crash_logs_every_thread_stack(tmp_path, tiny_checkpoint):
    node = NodeProcess(random_domain_id(), {"model": str(tiny_checkpoint), "device": "cpu"},
                       log_path=tmp_path / "crash.log")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "listening on" not in node.log():
        time.sleep(0.2)  # serving: the model is loaded and the threads run
    node.proc.send_signal(signal.SIGSEGV)  # what a crash in native code raises
    assert node.proc.wait(timeout=30) == -signal.SIGSEGV
    node.stop()
    log = node.log()
    assert "Segmentation fault" in log and "_run_publisher" in log, log


def test_sigterm_stops_a_serving_node_cleanly(tmp_path, tiny_checkpoint):
    # What ros2 launch sends after Ctrl-C times out, and systemd or docker stop send first.
    node = NodeProcess(random_domain_id(), {"model": str(tiny_checkpoint), "device": "cpu"},
                       log_path=tmp_path / "term.log")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "listening on" not in node.log():
        time.sleep(0.2)
    assert "listening on /image and /camera_info" in node.log(), node.log()
    node.proc.send_signal(signal.SIGTERM)
    assert node.proc.wait(timeout=10) == 0, node.log()
    node.stop()


def test_camera_info_is_scaled_to_model_resolution(tmp_path, tiny_checkpoint):
    s = Session(tmp_path, tiny_checkpoint, output_resolution="model", points_rgb=False,
                points_stride=2)
    try:
        msg = image_msg(rgb_image(240, 320, seed=6), "bgr8", stamp=7_000_000_000)
        info = camera_info_msg(320, 240, fx=400.0, fy=410.0, cx=150.0, cy=110.0)
        assert s.request(msg, info, topic="/depth/points") is not None, s.node.log()
        depth = s.matching("/depth/image", msg)[0]
        out_info = s.matching("/depth/camera_info", msg)[0]
        cloud = s.matching("/depth/points", msg)[0]
        assert (depth.height, depth.width) == (96, 128)
        assert (out_info.height, out_info.width) == (96, 128)
        np.testing.assert_allclose(out_info.k, [160.0, 0, 60.0, 0, 164.0, 44.0, 0, 0, 1])
        p = np.asarray(out_info.p)
        np.testing.assert_allclose(p[[0, 1, 2, 4, 5, 6]], [160, 0, 60, 0, 164, 44])
        assert cloud.point_step == 16 and (cloud.height, cloud.width) == (48, 64)
    finally:
        assert s.close() == 0


@pytest.mark.parametrize("input_aspect, network", [("auto", (144, 192)), ("squash", (96, 288))])
def test_a_model_trained_on_other_aspects_keeps_the_cameras_aspect(tmp_path, input_aspect,
                                                                   network):
    """A 4:3 camera and a 3:1 model trained on aspects 1.3-3.4: input_aspect auto runs the
    network at 144x192 (the camera's aspect), squash at the model's 96x288; the depth at the
    model's resolution, its camera_info and /diagnostics say which."""
    from conftest import make_model
    from s2r_depth_ros.model import save_checkpoint

    model = save_checkpoint(make_model(height=96, width=288, aspect_range=(1.3, 3.4)),
                            tmp_path / "aspects.pt", provenance={"source": "test"})
    s = Session(tmp_path, model, output_resolution="model", input_aspect=input_aspect)
    s.peer.listen(DiagnosticArray, "/diagnostics")
    try:
        msg = image_msg(rgb_image(240, 320, seed=3), "rgb8", stamp=7_500_000_000)
        info = camera_info_msg(320, 240, fx=400.0, fy=400.0, cx=160.0, cy=120.0)
        assert s.request(msg, info, topic="/depth/camera_info") is not None, s.node.log()
        for topic in ("/depth/image", "/depth/camera_info"):
            out = s.matching(topic, msg)[0]
            assert (out.height, out.width) == network, topic
        out_info = out
        sx, sy = network[1] / 320, network[0] / 240
        np.testing.assert_allclose(np.asarray(out_info.k)[[0, 2, 4, 5]],
                                   [400 * sx, 160 * sx, 400 * sy, 120 * sy], rtol=1e-6)
        assert f"320x240 images: the network runs at {network[0]}x{network[1]}" in s.node.log()
        deadline = time.monotonic() + 10
        values = {}
        while time.monotonic() < deadline and values.get("network_input") != "x".join(
                map(str, network)):
            time.sleep(0.2)
            for array in list(s.peer.received["/diagnostics"]):
                values = {kv.key: kv.value for kv in array.status[0].values}
        assert values.get("network_input") == "x".join(map(str, network)), values
    finally:
        assert s.close() == 0, s.node.log()


def test_missing_camera_info_policies(tmp_path, tiny_checkpoint):
    s = Session(tmp_path, tiny_checkpoint, camera_info_policy="require")
    try:
        msg = image_msg(rgb_image(120, 160), "rgb8", stamp=8_000_000_000)
        assert s.request(msg, None, timeout=8.0) is None
        assert "no valid camera_info" in s.node.log()
        assert s.request(msg, camera_info_msg(160, 120)) is not None
    finally:
        s.close()

    # geometry_when_available, with a camera-aware model: the log says what its metres assume.
    from conftest import make_model
    from s2r_depth_ros.model import save_checkpoint

    camera_aware = save_checkpoint(make_model(canonical_focal=100.0), tmp_path / "aware.pt",
                                   provenance={"source": "test"})
    s = Session(tmp_path, camera_aware)
    try:
        msg = image_msg(rgb_image(120, 160), "rgb8", stamp=9_000_000_000)
        assert s.request(msg, None) is not None
        assert not s.matching("/depth/points", msg) and not s.matching("/depth/camera_info", msg)
        assert "metres assume the model's canonical camera (focal 100 px" in s.node.log()
    finally:
        s.close()


def test_compressed_input(tmp_path, tiny_checkpoint):
    import cv2

    s = Session(tmp_path, tiny_checkpoint, input_transport="compressed")
    try:
        pub = s.peer.publisher(CompressedImage, "/image/compressed", RELIABLE)
        ok, jpeg = cv2.imencode(".jpg", rgb_image(120, 160))
        msg = CompressedImage(format="jpeg", data=jpeg.tobytes())
        msg.header.stamp.sec = 10
        want = stamp_ns(msg)
        assert s.peer.publish_until(
            lambda: pub.publish(msg),
            lambda: any(stamp_ns(m) == want for m in s.peer.received["/depth/image"]))
    finally:
        s.close()


def test_rate_limit_holds_across_parallel_workers(tmp_path, tiny_checkpoint):
    s = Session(tmp_path, tiny_checkpoint, inference_workers=2, max_rate_hz=4.0)
    try:
        msg = image_msg(rgb_image(120, 160), "rgb8", stamp=11_000_000_000)
        assert s.request(msg, camera_info_msg(160, 120)) is not None, s.node.log()
        s.peer.clear()
        start = time.monotonic()
        while time.monotonic() - start < 5.0:  # a 30 Hz camera; the tiny model keeps up
            msg.header.stamp.sec += 1
            s.image_pub.publish(msg)
            time.sleep(1 / 30)
        time.sleep(0.5)
        arrivals = np.array(s.peer.arrival["/depth/image"]) / 1e9
        assert 15 <= len(arrivals) <= 23, len(arrivals)  # 4 Hz for 5 s, not 2 x 4 Hz
        assert np.median(np.diff(arrivals)) > 0.2
    finally:
        assert s.close() == 0, s.node.log()


def test_node_falls_back_to_eager_when_the_runtime_export_fails(tmp_path, tiny_checkpoint,
                                                                monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("S2R_CACHE_DIR", str(blocker / "cache"))  # inherited by the node
    s = Session(tmp_path, tiny_checkpoint)
    try:
        msg = image_msg(rgb_image(120, 160), "rgb8", stamp=13_000_000_000)
        assert s.request(msg, camera_info_msg(160, 120)) is not None, s.node.log()
        assert "backend auto: openvino unavailable" in s.node.log()
        assert "with eager" in s.node.log()
    finally:
        assert s.close() == 0


def test_live_parameters_apply_at_once_and_the_others_are_refused(tmp_path, tiny_checkpoint):
    s = Session(tmp_path, tiny_checkpoint)
    try:
        msg = image_msg(rgb_image(120, 160), "rgb8", stamp=14_000_000_000)
        assert s.request(msg, camera_info_msg(160, 120)) is not None, s.node.log()
        [ok] = set_parameters(s.peer, max_rate_hz=2.0)
        assert ok.successful, ok.reason
        [fixed] = set_parameters(s.peer, model="indoor")
        assert not fixed.successful and "restart" in fixed.reason
        [bad] = set_parameters(s.peer, points_stride=0)
        assert not bad.successful and "points_stride" in bad.reason
        time.sleep(1.0)
        s.peer.clear()
        start = time.monotonic()
        while time.monotonic() - start < 4.0:  # 30 Hz camera, node now capped at 2 Hz
            msg.header.stamp.sec += 1
            s.image_pub.publish(msg)
            time.sleep(1 / 30)
        time.sleep(0.6)
        assert 5 <= s.peer.count("/depth/image") <= 10, s.peer.count("/depth/image")
        assert "parameters updated: {'max_rate_hz': 2.0}" in s.node.log()
    finally:
        assert s.close() == 0, s.node.log()


def test_a_node_does_not_outlive_the_process_that_started_it(tmp_path, tiny_checkpoint):
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from s2r_depth_ros.ros.live import NodeProcess, random_domain_id\n"
        f"node = NodeProcess(random_domain_id(), {{'model': {str(tiny_checkpoint)!r}}},\n"
        f"                   log_path=Path({str(tmp_path / 'orphan.log')!r}))\n"
        "print(node.proc.pid, flush=True)\n"
        "time.sleep(2)\n"
        "os._exit(1)  # crash without stopping the node\n")
    parent = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    pid = int(parent.stdout.split()[-1])

    def running() -> bool:
        try:  # state field: Z is a zombie, gone but for its exit status
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 20
    while running() and time.monotonic() < deadline:
        time.sleep(0.2)
    if running():
        os.kill(pid, 9)
        raise AssertionError("the node outlived the process that started it")


def test_peer_call_resends_when_an_answer_does_not_come():
    # Stands in for a response lost to ROS 2's service discovery race: the server answers
    # the first request only after the caller has given up on it and sent the request again.
    from lifecycle_msgs.srv import GetState

    domain = random_domain_id()
    server, caller = Peer(domain, "server"), Peer(domain, "caller")
    requests = []

    def answer(request, response):
        requests.append(time.monotonic())
        if len(requests) == 1:
            time.sleep(2.0)
        response.current_state.label = f"answer {len(requests)}"
        return response

    try:
        server.node.create_service(GetState, "/state", answer)
        client = caller.node.create_client(GetState, "/state")
        with pytest.raises(TimeoutError, match="no answer"):
            caller.call(client, GetState.Request(), timeout=0.5)  # the server is still busy
        label = caller.call(client, GetState.Request(), timeout=20.0,
                            resend_after=0.5).current_state.label
        # Answered from a resent request; the late first answer was dropped, not returned.
        assert label != "answer 1" and len(requests) >= 2
    finally:
        caller.close()
        server.close()


def test_domains_are_never_reused_within_a_process():
    # A long-lived module fixture must not share its domain with a later session.
    assert len({random_domain_id() for _ in range(20)}) == 20


def test_worker_layout_follows_the_backend_and_the_cores():
    defaults = NodeSettings()
    assert defaults.parallelism("cpu", "eager", 2) == (2, 1)  # frames in parallel
    assert defaults.parallelism("cpu", "openvino", 2) == (1, 2)  # one frame, both cores
    assert defaults.parallelism("cpu", "eager", 1) == (1, 1)
    assert defaults.parallelism("cuda", "eager", 16) == (1, 16)
    assert NodeSettings(inference_workers=3, threads=1).parallelism("cpu", "openvino", 2) == (
        3, 1)


@pytest.mark.parametrize("params, message", [
    ({"points_stride": 0}, "points_stride"),
    ({"colormap": "rainbow"}, "colormap"),
    ({"input_height": 100, "input_width": 128}, "multiples of 16"),
    ({"camera_info_policy": "guess"}, "camera_info_policy"),
    ({"inference_workers": 9}, "inference_workers"),
    ({"precision": "fp8"}, "precision"),
    ({"resize": "nearest"}, "resize"),
    ({"input_aspect": "stretch"}, "input_aspect"),
    ({"model": "/does/not/exist.pt"}, "no such file"),
    ({"scale_mode": "ground"}, "camera_height"),
    ({"scale_mode": "lidar"}, "scale_mode"),
    ({"sparse_points_transform": [0.0, 0.1, 0.0]}, "sparse_points_transform"),
    ({"sparse_points_transform": [0.0] * 7}, "non-zero quaternion"),
])
def test_bad_parameters_stop_the_node_with_a_clear_reason(tmp_path, tiny_checkpoint, params,
                                                          message):
    node = NodeProcess(random_domain_id(), {"model": str(tiny_checkpoint), **params},
                       log_path=tmp_path / "bad.log")
    assert node.proc.wait(timeout=60) == 1
    assert message in node.log()
