"""`s2r-depth replay`: real bags played into the real node process over loopback DDS."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from ros_harness import rgb_image
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import Image

from conftest import REAL_RGBD, require_shared
from s2r_depth_ros.cli import main
from s2r_depth_ros.evaluation.bag_io import header_stamp_ns
from s2r_depth_ros.ros.live import RELIABLE, NodeProcess, Peer, random_domain_id, stamp_ns

KITTI_BAG = REAL_RGBD / "bags" / "kitti_tiny_drive0023_image02_mcap"
KITTI_IMAGE = "/kitti/camera_color_left/image_rect"
TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)
T0 = 1_700_000_000_000_000_000
# Irregular recorded spacing, so pacing by a fixed rate would not pass.
OFFSETS_S = [0.0, 0.15, 0.3, 0.7, 0.8, 1.1]


def model_args(checkpoint: Path) -> list[str]:
    return ["--model", str(checkpoint), "--device", "cpu", "--threads", "1"]


def read_bag(path: Path) -> dict[str, list]:
    """Every message of a bag by topic, deserialised."""
    messages: dict[str, list] = {}
    with AnyReader([path], default_typestore=TYPESTORE) as reader:
        for connection, _, raw in reader.messages():
            messages.setdefault(connection.topic, []).append(
                reader.deserialize(raw, connection.msgtype))
    return messages


def write_paced_bag(path: Path, offsets_s: list[float], t0: int = T0,
                    storage: StoragePlugin = StoragePlugin.SQLITE3,
                    camera_info: bool = True) -> list[int]:
    """A bag of 160x120 images (+ camera_info) at the given log-time offsets from ``t0``."""
    types = TYPESTORE.types
    stamps = [t0 + round(offset * 1e9) for offset in offsets_s]
    with Writer(path, version=8, storage_plugin=storage) as writer:
        image_conn = writer.add_connection("/cam/image", "sensor_msgs/msg/Image",
                                           typestore=TYPESTORE)
        info_conn = writer.add_connection("/cam/camera_info", "sensor_msgs/msg/CameraInfo",
                                          typestore=TYPESTORE) if camera_info else None
        for index, stamp in enumerate(stamps):
            header = types["std_msgs/msg/Header"](
                stamp=types["builtin_interfaces/msg/Time"](sec=stamp // 10**9,
                                                           nanosec=stamp % 10**9),
                frame_id="test_cam")
            rgb = rgb_image(120, 160, seed=index)
            image = types["sensor_msgs/msg/Image"](
                header=header, height=120, width=160, encoding="rgb8", is_bigendian=0,
                step=480, data=np.frombuffer(rgb.tobytes(), np.uint8))
            roi = types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0,
                                                             width=0, do_rectify=False)
            info = types["sensor_msgs/msg/CameraInfo"](
                header=header, height=120, width=160, distortion_model="plumb_bob",
                d=np.zeros(5), k=np.array([150.0, 0, 80, 0, 150, 60, 0, 0, 1]),
                r=np.eye(3).ravel(), p=np.array([150.0, 0, 80, 0, 0, 150, 60, 0, 0, 0, 1, 0]),
                binning_x=0, binning_y=0, roi=roi)
            writer.write(image_conn, stamp, TYPESTORE.serialize_cdr(image, image.__msgtype__))
            if camera_info:
                writer.write(info_conn, stamp, TYPESTORE.serialize_cdr(info, info.__msgtype__))
    return stamps


@pytest.fixture(scope="module")
def paced_bag(tmp_path_factory) -> tuple[Path, list[int]]:
    path = tmp_path_factory.mktemp("bags") / "paced"
    return path, write_paced_bag(path, OFFSETS_S)


def check_latency(stats: dict, count: int) -> None:
    assert stats["count"] == count
    values = [stats[k] for k in ("p50", "p95", "p99", "max")]
    assert all(math.isfinite(v) and 0 < v < 60_000 for v in values), stats
    assert values == sorted(values)


def test_real_mcap_bag_at_max_speed_is_answered_with_stamps_kept(tmp_path, tiny_checkpoint,
                                                                 capsys):
    require_shared(KITTI_BAG)
    out, written = tmp_path / "out", tmp_path / "session"
    rc = main(["replay", str(KITTI_BAG), "--image-topic", KITTI_IMAGE, "--max-speed",
               "--limit", "5", "--param", "points_stride:=4", "--output", str(out),
               "--write-bag", str(written), "--quiet", *model_args(tiny_checkpoint)])
    printed = capsys.readouterr().out
    assert rc == 0, (out / "node.log").read_text()
    summary = json.loads((out / "replay.json").read_text())
    original = read_bag(KITTI_BAG)[KITTI_IMAGE][:5]
    stamps = [header_stamp_ns(m) for m in original]

    assert (summary["frames_in_bag"], summary["frames_sent"]) == (7, 5)
    assert summary["frames_answered"] == 5 and summary["frames_dropped"] == 0
    assert summary["camera_info_topic"] == "/kitti/camera_color_left/camera_info"
    assert summary["node"]["exit_status"] == 0
    assert set(summary["node"]["outputs_per_frame"]) == {"image", "colorized", "camera_info",
                                                         "points"}
    for topic in ("/depth/image", "/depth/colorized", "/depth/camera_info", "/depth/points"):
        check_latency(summary["latency_ms"][topic], 5)
    assert [f["stamp_ns"] for f in summary["frames"]] == stamps
    assert summary["throughput_fps"] > 0
    assert "answered 5/5" in printed and "/depth/points" in printed
    report = (out / "report.html").read_text()
    assert "<svg" in report and report.count("data:image/png") >= 2

    # The written bag holds the inputs as sent and what the node published, stamps kept.
    bag = read_bag(written)
    assert [header_stamp_ns(m) for m in bag[KITTI_IMAGE]] == stamps
    assert np.array_equal(bag[KITTI_IMAGE][0].data, original[0].data)
    assert len(bag["/kitti/camera_color_left/camera_info"]) == 5
    depth = bag["/depth/image"]
    assert [header_stamp_ns(m) for m in depth] == stamps
    assert all(m.header.frame_id == "kitti_cam2" and m.encoding == "32FC1" for m in depth)
    values = np.frombuffer(depth[0].data.tobytes(), np.float32).reshape(375, 1242)
    # No NaN (border_margin 0 by default), +inf for the sky (the model's cap).
    assert not np.isnan(values).any() and np.isfinite(values).mean() > 0.6
    assert values.min() > 0
    assert [m.encoding for m in bag["/depth/colorized"]] == ["bgr8"] * 5
    points = bag["/depth/points"]
    assert [header_stamp_ns(m) for m in points] == stamps
    assert (points[0].height, points[0].width) == (94, 311)  # stride 4 of 375 x 1242
    assert [header_stamp_ns(m) for m in bag["/depth/camera_info"]] == stamps


def test_rate_replay_into_attached_node_follows_recorded_timing(tmp_path, tiny_checkpoint,
                                                                paced_bag, monkeypatch):
    bag, stamps = paced_bag
    domain = random_domain_id()
    node = NodeProcess(domain, {"model": str(tiny_checkpoint), "device": "cpu", "threads": 1},
                       remaps={"image": "/cam/image", "camera_info": "/cam/camera_info"},
                       log_path=tmp_path / "node.log")
    # An independent listener times the images as they go out on the wire.
    listener = Peer(domain)
    listener.listen(Image, "/cam/image", RELIABLE)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    try:
        rc = main(["replay", str(bag), "--image-topic", "/cam/image", "--rate", "2",
                   "--attach", "--output", str(tmp_path / "out"), "--quiet"])
    finally:
        listener.close()
        status = node.stop()
    assert rc == 0 and status == 0, node.log()
    heard = {}
    for msg, arrival in zip(listener.received["/cam/image"], listener.arrival["/cam/image"]):
        heard.setdefault(stamp_ns(msg), arrival)
    assert [s for s in heard if s in stamps] == stamps  # every frame, in order, stamps kept
    sent = np.array([(heard[s] - heard[stamps[0]]) / 1e9 for s in stamps])
    expected = np.array(OFFSETS_S) / 2.0
    assert np.all(np.abs(sent - expected) < 0.06), (sent, expected)
    summary = json.loads((tmp_path / "out" / "replay.json").read_text())
    assert summary["node"]["attached"] and summary["mode"] == "rate"
    assert summary["replayed_span_s"] == pytest.approx(0.55, abs=0.06)
    assert summary["pacing_error_ms"]["max"] < 60
    assert summary["frames_answered"] >= 1
    check_latency(summary["latency_ms"]["/depth/image"], summary["frames_answered"])


def test_clock_runs_the_node_on_bag_time(tmp_path, tiny_checkpoint, paced_bag):
    bag, stamps = paced_bag
    out = tmp_path / "out"
    rc = main(["replay", str(bag), "--image-topic", "/cam/image", "--clock", "--output",
               str(out), "--quiet", *model_args(tiny_checkpoint)])
    assert rc == 0, (out / "node.log").read_text()
    summary = json.loads((out / "replay.json").read_text())
    assert summary["node"]["params"]["use_sim_time"] is True
    assert summary["clock"] and summary["latency_bag_time_ms"]["count"] >= 1
    # The node measures its clock minus the 2023 stamps: small only if its clock is bag time.
    node_latency = float(summary["node"]["diagnostics"]["latency_ms_p50"])
    assert 0 <= node_latency < 5000, summary["node"]["diagnostics"]


@pytest.mark.parametrize(("args", "message"), [
    (["--image-topic", "/no/such/topic"], "image topic '/no/such/topic' is not in"),
    (["--image-topic", "/cam/camera_info"], "has type sensor_msgs/msg/CameraInfo"),
    (["--image-topic", "/cam/image", "--camera-info-topic", "/cam/missing"],
     "camera_info topic '/cam/missing' is not in"),
    (["--image-topic", "/cam/image", "--clock", "--max-speed"], "--clock needs a paced replay"),
    (["--image-topic", "/cam/image", "--attach", "--model", "x.pt"], "--attach uses the running"),
])
def test_bad_topics_and_options_fail_in_one_line(tmp_path, paced_bag, capsys, args, message):
    out = tmp_path / "out"
    assert main(["replay", str(paced_bag[0]), *args, "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()  # failed before any node was started


def test_missing_and_corrupt_bags_fail_in_one_line(tmp_path, capsys):
    corrupt = tmp_path / "corrupt.mcap"
    corrupt.write_bytes(b"\x89MCAP0\r\n" + bytes(range(256)) * 4)
    for bag, message in ((tmp_path / "absent", "bag not found"), (corrupt, "cannot open bag")):
        assert main(["replay", str(bag), "--image-topic", "/cam/image", "--output",
                     str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err


def test_old_stamps_give_latency_from_the_publish_time_and_warm_up_is_not_counted(
        tmp_path, tiny_checkpoint, capsys):
    """A bag recorded in 2011: latency must not be "now minus 2011" anywhere in the results."""
    bag = tmp_path / "old"
    stamps = write_paced_bag(bag, OFFSETS_S, t0=1_300_000_000_000_000_000)
    out = tmp_path / "out"
    rc = main(["replay", str(bag), "--image-topic", "/cam/image", "--max-speed", "--output",
               str(out), "--quiet", *model_args(tiny_checkpoint)])
    printed = capsys.readouterr().out
    assert rc == 0, (out / "node.log").read_text()
    summary = json.loads((out / "replay.json").read_text())
    assert [f["stamp_ns"] for f in summary["frames"]] == stamps
    for stats in summary["latency_ms"].values():
        check_latency(stats, len(stamps))
    diagnostics = summary["node"]["diagnostics"]
    assert summary["node"]["warmup_publishes"] >= 1
    # Counted from the end of the warm-up: exactly the replayed frames (closed loop).
    assert int(diagnostics["frames_received"]) == len(stamps), diagnostics
    assert int(diagnostics["frames_processed"]) == len(stamps), diagnostics
    assert not any(k.startswith("latency_ms_") for k in diagnostics), diagnostics
    assert "left out" in diagnostics["latency_ms"]
    assert f"frames_received {len(stamps)}" in printed and "latency_ms_p50" not in printed
    report = (out / "report.html").read_text()
    assert "479270" not in report and "<table class=\"info\">" in report
    assert "{'" not in report  # run metadata as tables, not Python dict text


def test_bag_without_camera_info_expects_only_the_outputs_the_node_can_give(
        tmp_path, tiny_checkpoint):
    """No intrinsics: the node publishes depth and colour only, and the closed loop must not
    wait for camera_info and points on every frame (nor report them missing)."""
    bag = tmp_path / "no_info"
    stamps = write_paced_bag(bag, OFFSETS_S, camera_info=False)
    out = tmp_path / "out"
    rc = main(["replay", str(bag), "--image-topic", "/cam/image", "--max-speed", "--output",
               str(out), "--answer-timeout", "2", "--quiet", *model_args(tiny_checkpoint)])
    assert rc == 0, (out / "node.log").read_text()
    summary = json.loads((out / "replay.json").read_text())
    assert summary["camera_info_topic"] is None
    assert set(summary["node"]["outputs_per_frame"]) == {"image", "colorized"}
    assert summary["frames_answered"] == len(stamps) and summary["frames_dropped"] == 0
    for topic in ("/depth/image", "/depth/colorized"):
        check_latency(summary["latency_ms"][topic], len(stamps))
    for topic in ("/depth/camera_info", "/depth/points"):
        assert summary["latency_ms"][topic]["count"] == 0


def test_truncated_mcap_is_replayed_up_to_the_damage(tmp_path, tiny_checkpoint, capsys):
    """The same behaviour as eval-bag: what was read is replayed and kept, then exit 2."""
    bag = tmp_path / "bag"
    write_paced_bag(bag, OFFSETS_S, storage=StoragePlugin.MCAP)
    mcap = next(bag.glob("*.mcap"))
    data = mcap.read_bytes()
    mcap.write_bytes(data[:int(len(data) * 0.6)])  # a recording that stopped mid-write
    out = tmp_path / "out"
    rc = main(["replay", str(bag), "--image-topic", "/cam/image", "--max-speed", "--output",
               str(out), "--quiet", *model_args(tiny_checkpoint)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert "truncated" in err[0] and "salvaged" in err[0] and "results for" in err[0], err
    summary = json.loads((out / "replay.json").read_text())
    assert 1 <= summary["frames_sent"] < len(OFFSETS_S)
    assert summary["frames_in_bag"] == summary["frames_sent"]  # all that survived
    assert summary["frames_answered"] == summary["frames_sent"]
    assert "truncated" in summary["read_error"]


def test_replay_reports_the_nodes_ground_plane_scale(tmp_path, capsys):
    # The shipped outdoor model on the KITTI frames, camera 1.65 m above the road, level mount.
    require_shared(KITTI_BAG)
    out = tmp_path / "out"
    rc = main(["replay", str(KITTI_BAG), "--image-topic", KITTI_IMAGE, "--max-speed",
               "--limit", "4", "--model", "outdoor", "--param", "scale_mode:=ground",
               "--param", "camera_height:=1.65", "--param", "mount_orientation_known:=true",
               "--output", str(out), "--quiet"])
    printed = capsys.readouterr().out
    assert rc == 0, (out / "node.log").read_text()
    diag = json.loads((out / "replay.json").read_text())["node"]["diagnostics"]
    assert diag["scale_source"] == "ground", diag
    assert 0.5 < float(diag["scale"]) < 2.0 and 0.2 <= float(diag["scale_support"]) <= 1.0
    assert float(diag["scale_jitter"]) >= 0.0
    assert f"node scale: {diag['scale']} from ground" in printed
