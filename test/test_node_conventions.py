"""The node's outputs and behaviour against the ecosystem's conventions, over real DDS.

camera_info as image_proc's resize scales it, REP 117 for saturated depth, image_geometry's
need for a distortion model, diagnostic_updater's status names, the signals `ros2 launch`
sends, and the README's own start-up on a default transport.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from ros_harness import camera_info_msg, image_msg, rgb_image
from sensor_msgs.msg import CameraInfo, Image
from test_depth_node import Session, cloud_array, float_image

from conftest import REPO, make_model
from s2r_depth_ros.model import save_checkpoint
from s2r_depth_ros.ros.live import NodeProcess, Peer, random_domain_id


@pytest.fixture(scope="module")
def saturating_checkpoint(tmp_path_factory):
    """A real model whose output head saturates tanh: about half the pixels at the cap."""
    model = make_model()
    with torch.no_grad():
        for conv in model.depth_net.output1.modules():
            if isinstance(conv, torch.nn.Conv2d):
                conv.weight.mul_(1e4)
    return save_checkpoint(model, tmp_path_factory.mktemp("sat") / "saturating.pt")


def kitti_like_info() -> CameraInfo:
    """A rectified stereo camera: P with Tx, Ty and Tz in its last column (KITTI's P2)."""
    info = camera_info_msg(320, 240, fx=360.0, fy=350.0, cx=150.0, cy=110.0)
    info.p[3], info.p[7], info.p[11] = 44.857, 0.216, 0.0027
    info.binning_x = info.binning_y = 0
    info.roi.x_offset, info.roi.y_offset, info.roi.width, info.roi.height = 32, 24, 256, 192
    return info


def unrectified_info() -> CameraInfo:
    """A raw camera: K != P, distortion non-zero, a rotation in R."""
    info = camera_info_msg(320, 240, fx=330.0, fy=335.0, cx=158.0, cy=121.0)
    info.d = [-0.28, 0.07, 0.0002, -0.0001, 0.0]
    info.k = [338.0, 0.0, 161.0, 0.0, 339.0, 119.0, 0.0, 0.0, 1.0]
    info.r = [0.9999, 0.0012, -0.0100, -0.0012, 1.0, 0.0003, 0.0100, -0.0003, 0.9999]
    return info


def expected_scaled(info: CameraInfo, width: int, height: int) -> dict:
    """image_proc's resize rule written from its documentation: fx, cx, Tx scale with the
    width, fy, cy, Ty with the height; everything else is the input's."""
    sx, sy = width / info.width, height / info.height
    k, p = np.array(info.k, float), np.array(info.p, float)
    k[[0, 2]] *= sx
    k[[4, 5]] *= sy
    p[[0, 2, 3]] *= sx
    p[[5, 6, 7]] *= sy
    return {"k": k, "p": p}


@pytest.mark.parametrize("make_info", [kitti_like_info, unrectified_info])
def test_published_camera_info_is_the_input_with_only_its_resolution_entries_scaled(
        tmp_path, tiny_checkpoint, make_info):
    s = Session(tmp_path, tiny_checkpoint, output_resolution="model")
    try:
        info = make_info()
        msg = image_msg(rgb_image(240, 320), "rgb8", stamp=21_000_000_000)
        assert s.request(msg, info, topic="/depth/camera_info") is not None, s.node.log()
        out = s.matching("/depth/camera_info", msg)[0]
        assert (out.width, out.height) == (128, 96)
        want = expected_scaled(info, 128, 96)
        np.testing.assert_allclose(out.k, want["k"], rtol=1e-12)
        np.testing.assert_allclose(out.p, want["p"], rtol=1e-12)
        assert out.p[11] == info.p[11]  # Tz is not a pixel quantity
        assert list(out.d) == list(info.d) and list(out.r) == list(info.r)
        assert out.distortion_model == info.distortion_model
        assert (out.binning_x, out.binning_y) == (info.binning_x, info.binning_y)
        roi = (out.roi.x_offset, out.roi.y_offset, out.roi.width, out.roi.height)
        assert roi == (round(info.roi.x_offset * 0.4), round(info.roi.y_offset * 0.4),
                       round(info.roi.width * 0.4), round(info.roi.height * 0.4))
        assert out.header.frame_id == msg.header.frame_id
    finally:
        assert s.close() == 0, s.node.log()


def test_the_models_cap_is_plus_infinity_in_depth_and_nan_in_the_cloud(
        tmp_path, saturating_checkpoint):
    # REP 117: "no return beyond range" is +inf, and such pixels are no points.
    # max_depth 0: the model's own range; no border margin, so every pixel is a reading.
    s = Session(tmp_path, saturating_checkpoint, border_margin=0)
    try:
        msg = image_msg(rgb_image(96, 128), "rgb8", stamp=22_000_000_000)
        assert s.request(msg, camera_info_msg(128, 96), topic="/depth/points") is not None, (
            s.node.log())
        depth = float_image(s.matching("/depth/image", msg)[0])
        cloud = cloud_array(s.matching("/depth/points", msg)[0])
        far = np.isposinf(depth)
        assert 0.05 < far.mean() < 0.95, far.mean()
        assert np.all(np.isfinite(depth[~far])) and depth[~far].max() < 79.6
        assert np.all(np.isnan(cloud[:, :, :3][far]))
        assert np.all(np.isfinite(cloud[:, :, :3][~far]))
    finally:
        assert s.close() == 0, s.node.log()


def test_assume_fov_publishes_a_camera_image_geometry_can_use(tmp_path, tiny_checkpoint):
    s = Session(tmp_path, tiny_checkpoint, camera_info_policy="assume_fov",
                assumed_hfov_deg=90.0)
    try:
        msg = image_msg(rgb_image(120, 160), "rgb8", stamp=23_000_000_000)
        assert s.request(msg, None, topic="/depth/camera_info") is not None, s.node.log()
        out = s.matching("/depth/camera_info", msg)[0]
        assert out.distortion_model == "plumb_bob" and list(out.d) == [0.0] * 5
        assert out.k[0] == pytest.approx(80.0) and out.p[0] == pytest.approx(80.0)
        assert list(out.r) == [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
    finally:
        assert s.close() == 0, s.node.log()


def test_diagnostics_name_the_node_and_lazy_skips_are_not_a_warning(tmp_path, tiny_checkpoint):
    domain = random_domain_id()
    node = NodeProcess(domain, {"model": str(tiny_checkpoint), "device": "cpu", "threads": 1},
                       remaps={"__ns": "/cam1"}, log_path=tmp_path / "node.log")
    peer = Peer(domain)
    try:
        peer.listen(DiagnosticArray, "/diagnostics")
        image_pub = peer.publisher(Image, "/cam1/image")
        msg = image_msg(rgb_image(120, 160), "rgb8", stamp=24_000_000_000)

        def skipped() -> bool:
            for array in list(peer.received["/diagnostics"]):
                values = {kv.key: kv.value for kv in array.status[0].values}
                if int(values["frames_skipped_no_subscribers"]) > 0:
                    return True
            return False

        # Nobody subscribes to an output: every frame is skipped, on purpose.
        assert peer.publish_until(lambda: image_pub.publish(msg), skipped, timeout=60), (
            node.log())
        status = peer.received["/diagnostics"][-1].status[0]
        assert status.name == "depth_node: depth"  # diagnostic_updater's convention
        assert status.level == DiagnosticStatus.OK, status.message
        assert "lazy" in status.message
    finally:
        peer.close()
        assert node.stop() == 0, node.log()


def test_frames_still_in_flight_are_not_a_fault_but_unhandled_ones_are():
    """A report taken between a frame's arrival and its lazy skip stays OK; more frames
    without an outcome than the slot and the workers can hold is a WARN (a stuck node)."""
    from s2r_depth_ros.ros.diagnostics import NodeStats, depth_status

    def status(received: int, skipped: int) -> DiagnosticStatus:
        stats = NodeStats(received=received, skipped_no_subscribers=skipped)
        return depth_status("depth_node", "cpu", stats, {}, in_flight=2)

    for received, skipped in ((3, 3), (3, 2), (3, 1)):
        lazy = status(received, skipped)
        assert lazy.level == DiagnosticStatus.OK and "lazy" in lazy.message
    stuck = status(received=4, skipped=1)
    assert stuck.level == DiagnosticStatus.WARN
    assert stuck.message == "frames received, none processed"
    assert status(received=2, skipped=0).level == DiagnosticStatus.OK  # both still in flight


def serving_node(tmp_path, checkpoint) -> tuple[NodeProcess, Peer, Image]:
    domain = random_domain_id()
    node = NodeProcess(domain, {"model": str(checkpoint), "device": "cpu", "threads": 1,
                                "lazy": False}, log_path=tmp_path / "node.log")
    peer = Peer(domain)
    peer.listen(Image, "/depth/image")
    msg = image_msg(rgb_image(120, 160), "rgb8", stamp=25_000_000_000)
    pub = peer.publisher(Image, "/image")
    assert peer.publish_until(lambda: pub.publish(msg), lambda: peer.count("/depth/image") > 0,
                              timeout=60), node.log()
    return node, peer, msg


@pytest.mark.parametrize("sequence", ["sigint_twice", "sigint_then_sigterm"])
def test_the_signals_of_ros2_launch_stop_a_serving_node_promptly(tmp_path, tiny_checkpoint,
                                                                 sequence):
    # Ctrl-C under `ros2 launch`: the terminal and launch each send SIGINT; launch sends
    # SIGTERM if the process is still there after its timeout. Either must end it quickly.
    node, peer, _ = serving_node(tmp_path, tiny_checkpoint)
    try:
        started = time.monotonic()
        node.proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        node.proc.send_signal(signal.SIGINT if sequence == "sigint_twice" else signal.SIGTERM)
        status = node.proc.wait(timeout=10)
        took = time.monotonic() - started
        assert status == 0, node.log()
        assert took < 3.0, took
        assert "Traceback" not in node.log(), node.log()
    finally:
        peer.close()
        node.stop()


CAMERA = """
import json, sys, time, rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
rclpy.init()
node = rclpy.create_node("camera")
pub = node.create_publisher(Image, "/cam/image", qos_profile_sensor_data)  # a camera driver's QoS
reports = []
node.create_subscription(DiagnosticArray, "/diagnostics", reports.append, 10)
deadline = time.monotonic() + 120
while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.1)
end = time.monotonic() + 2.0
while time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.1)
msg = Image(height=480, width=640, encoding="rgb8", step=1920, data=bytes(range(256)) * 3600)
stamps = list(range(1, 16)) + list(range(19, 24))  # 20 frames; 3 missing after the 15th
for second in stamps:
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(second * 200_000_000, 10**9)
    pub.publish(msg)
    end = time.monotonic() + 0.2  # 5 Hz
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.02)
end = time.monotonic() + 4.0
while time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.1)
values = {kv.key: kv.value for kv in reports[-1].status[0].values} if reports else {}
print(json.dumps(values))
"""


def test_the_node_started_as_the_readme_says_receives_large_images(tmp_path):
    # No profile from the test harness: the node and a camera with default settings, both
    # on loopback (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST), 20 640x480 frames at 5 Hz.
    env = {k: v for k, v in os.environ.items() if k not in (
        "FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")}
    env.update(ROS_DOMAIN_ID=str(random_domain_id()), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               PYTHONUNBUFFERED="1")
    log = tmp_path / "node.log"
    with open(log, "w") as out:
        node = subprocess.Popen(
            [sys.executable, "-m", "s2r_depth_ros.ros.depth_node", "--ros-args",
             "--params-file", "config/params.yaml", "-r", "image:=/cam/image"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        camera = subprocess.run([sys.executable, "-c", CAMERA], env=env, capture_output=True,
                                text=True, timeout=240)
        assert camera.returncode == 0, camera.stderr
        import json

        values = json.loads(camera.stdout.strip().splitlines()[-1])
        assert values, log.read_text()
        assert int(values["frames_received"]) >= 19, (values, log.read_text())
        # The stamp gap is reported, and counted.
        assert re.search(r"3 frame\(s\) missing", log.read_text()), log.read_text()
        assert int(values["frames_missing_upstream"]) >= 3
        assert "fastdds_node_localhost.xml" in log.read_text()
    finally:
        node.send_signal(signal.SIGINT)
        assert node.wait(timeout=15) == 0, log.read_text()


def test_ctrl_c_while_the_model_loads_stops_the_node_even_if_sigint_was_ignored(tmp_path):
    # A background job of a non-interactive shell (and whatever it starts: ros2 launch, its
    # nodes) begins with SIGINT ignored; the node takes Ctrl-C from its first log line on,
    # not only once the model has loaded.
    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    env = dict(os.environ, ROS_DOMAIN_ID=str(random_domain_id()), PYTHONUNBUFFERED="1")
    log = tmp_path / "node.log"
    with open(log, "w") as out:
        node = subprocess.Popen([sys.executable, "-m", "s2r_depth_ros.ros.depth_node"],
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=ignore_sigint)
    try:
        deadline = time.monotonic() + 30
        while "transport:" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "listening on" not in log.read_text()  # still loading the model
        started = time.monotonic()
        node.send_signal(signal.SIGINT)
        assert node.wait(timeout=15) == 0, log.read_text()
        assert time.monotonic() - started < 5.0
        assert "listening on" not in log.read_text()
    finally:
        if node.poll() is None:
            node.kill()


def test_an_unknown_parameter_is_named_in_a_warning(tmp_path, tiny_checkpoint):
    params = tmp_path / "params.yaml"
    params.write_text("/**:\n  ros__parameters:\n    max_dpeth: 10.0\n    device: cpu\n")
    log = tmp_path / "node.log"
    env = dict(os.environ, ROS_DOMAIN_ID=str(random_domain_id()), PYTHONUNBUFFERED="1")
    with open(log, "w") as out:
        node = subprocess.Popen([sys.executable, "-m", "s2r_depth_ros.ros.depth_node",
                                 "--ros-args", "--params-file", str(params),
                                 "-p", f"model:={tiny_checkpoint}", "-p", "threads:=1"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "listening on" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        text = log.read_text()
        assert "unknown parameter(s) max_dpeth: ignored" in text, text
        assert "device" not in text.split("unknown parameter(s)")[1].splitlines()[0]
    finally:
        node.send_signal(signal.SIGINT)
        assert node.wait(timeout=15) == 0, log.read_text()
