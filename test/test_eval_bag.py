"""`s2r-depth eval-bag`: real bags, bags written here, agreement with folders, bad bags."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from conftest import REAL_RGBD, require_shared
from s2r_depth_ros.cli import main
from s2r_depth_ros.evaluation.bag_io import match_stamps
from s2r_depth_ros.inference import open_estimator

BAGS = REAL_RGBD / "bags"
KITTI_BAG = BAGS / "kitti_tiny_drive0023_image02_mcap"
KITCHEN_BAG = BAGS / "7scenes_redkitchen_rgbd_sqlite3"
KITTI_TOPICS = ["--image-topic", "/kitti/camera_color_left/image_rect",
                "--gt-depth-topic", "/kitti/camera_color_left/depth_velodyne"]
KITCHEN_TOPICS = ["--image-topic", "/camera/color/image_raw",
                  "--gt-depth-topic", "/camera/depth/image_raw"]
TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)
T0 = 1_700_000_000_000_000_000
K = (585.0, 585.0, 320.0, 240.0)


def run(*args: str) -> int:
    return main(["eval-bag", *args])


def model_args(checkpoint: Path) -> list[str]:
    return ["--model", str(checkpoint), "--device", "cpu", "--threads", "1"]


@pytest.fixture(scope="module")
def kitchen_frames():
    manifest = json.loads((REAL_RGBD / "manifest.json").read_text())["entries"]
    entries = [e for e in manifest if e["dataset"] == "7scenes_tsdf_fusion_python"][:3]
    frames = []
    for entry in entries:
        rgb = np.asarray(Image.open(REAL_RGBD / entry["rgb"]).convert("RGB"))
        mm = cv2.imread(str(REAL_RGBD / entry["depth"]), cv2.IMREAD_UNCHANGED)
        frames.append((rgb, mm))
    return frames


def header(stamp_ns: int, frame_id: str = "cam"):
    time = TYPESTORE.types["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9,
                                                         nanosec=stamp_ns % 10**9)
    return TYPESTORE.types["std_msgs/msg/Header"](stamp=time, frame_id=frame_id)


def image_msg(array: np.ndarray, encoding: str, stamp_ns: int, pad: int = 0):
    """An Image whose rows may carry ``pad`` extra bytes (step > width * pixel size)."""
    array = np.ascontiguousarray(array)
    rows = array.reshape(array.shape[0], -1).view(np.uint8)
    if pad:
        rows = np.hstack([rows, np.full((rows.shape[0], pad), 7, np.uint8)])
    return TYPESTORE.types["sensor_msgs/msg/Image"](
        header=header(stamp_ns), height=array.shape[0], width=array.shape[1],
        encoding=encoding, is_bigendian=0, step=rows.shape[1], data=rows.ravel().copy())


def camera_info(stamp_ns: int, height: int, width: int):
    fx, fy, cx, cy = K
    roi = TYPESTORE.types["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return TYPESTORE.types["sensor_msgs/msg/CameraInfo"](
        header=header(stamp_ns), height=height, width=width, distortion_model="plumb_bob",
        d=np.zeros(5), k=np.array([fx, 0, cx, 0, fy, cy, 0, 0, 1.0]), r=np.eye(3).ravel(),
        p=np.array([fx, 0, cx, 0, 0, fy, cy, 0, 0, 0, 1.0, 0]), binning_x=0, binning_y=0,
        roi=roi)


def write_test_bag(path: Path, storage: str, frames, gt_encoding: str,
                   missing_gt: tuple[int, ...] = ()) -> list[int]:
    """Images at 10 Hz, GT 3 ms later (16UC1 mm or 32FC1 m), camera_info; returns stamps."""
    plugin = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}[storage]
    stamps = []
    with Writer(path, version=8, storage_plugin=plugin) as writer:
        image_c = writer.add_connection("/cam/image", "sensor_msgs/msg/Image",
                                        typestore=TYPESTORE)
        info_c = writer.add_connection("/cam/camera_info", "sensor_msgs/msg/CameraInfo",
                                       typestore=TYPESTORE)
        gt_c = writer.add_connection("/cam/depth", "sensor_msgs/msg/Image", typestore=TYPESTORE)
        for i, (rgb, mm) in enumerate(frames):
            stamp = T0 + i * 100_000_000
            stamps.append(stamp)
            messages = [(image_c, stamp, image_msg(rgb, "rgb8", stamp, pad=4 * (i % 2))),
                        (info_c, stamp, camera_info(stamp, *rgb.shape[:2]))]
            if i not in missing_gt:
                gt = mm if gt_encoding == "16UC1" else mm.astype(np.float32) * np.float32(1e-3)
                messages.append((gt_c, stamp + 3_000_000,
                                 image_msg(gt, gt_encoding, stamp + 3_000_000)))
            for connection, log_time, msg in messages:
                writer.write(connection, log_time, TYPESTORE.serialize_cdr(msg, msg.__msgtype__))
    return stamps


def metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("bag, topics, protocol, images", [
    (KITTI_BAG, KITTI_TOPICS, "outdoor", 7), (KITCHEN_BAG, KITCHEN_TOPICS, "indoor", 10)],
    ids=["mcap-kitti", "sqlite3-7scenes"])
def test_real_bags(tmp_path, tiny_checkpoint, bag, topics, protocol, images):
    require_shared(bag)
    out = tmp_path / "out"
    assert run(str(bag), *topics, "--protocol", protocol, "--limit", "2", "--output", str(out),
               "--report-frames", "1", "--quiet", *model_args(tiny_checkpoint)) == 0
    data = metrics(out)
    assert data["pairing"]["images"] == images and data["pairing"]["matched"] == images
    assert data["source"]["camera_info_topic"].endswith("camera_info")  # found beside image
    group = data["groups"][protocol]
    assert group["frames_scored"] == 2
    assert set(group["methods"]) == {"model", "constant", "ground_plane"}
    for summary in group["methods"].values():
        assert 0 < summary["scaled"]["abs_rel"] < 2 and 0 <= summary["scaled"]["delta1"] <= 1
    report = (out / "report.html").read_text()
    # rgb, prediction, ground truth, error and the colour bar in metres
    assert report.count("data:image/png;base64,") == 5 and "depth colours (m)" in report
    assert "<table class=\"info\">" in report and "{'" not in report  # metadata as tables
    assert len((out / "frames.csv").read_text().splitlines()) == 1 + 2 * 3


@pytest.mark.parametrize("storage, gt_encoding", [("sqlite3", "16UC1"), ("mcap", "32FC1")])
def test_bag_and_folder_evaluation_agree(tmp_path, tiny_checkpoint, kitchen_frames, storage,
                                         gt_encoding):
    stamps = write_test_bag(tmp_path / "bag", storage, kitchen_frames, gt_encoding,
                            missing_gt=(1,))
    rgb_dir, depth_dir = tmp_path / "rgb", tmp_path / "depth"
    rgb_dir.mkdir()
    depth_dir.mkdir()
    for i, (rgb, mm) in enumerate(kitchen_frames):
        Image.fromarray(rgb).save(rgb_dir / f"{i:06d}.png")
        if i != 1:
            if gt_encoding == "16UC1":
                cv2.imwrite(str(depth_dir / f"{i:06d}.png"), mm)
            else:
                np.save(depth_dir / f"{i:06d}.npy", mm.astype(np.float32) * np.float32(1e-3))
    scale = "0.001" if gt_encoding == "16UC1" else "1"
    assert main(["eval", "--rgb-dir", str(rgb_dir), "--depth-dir", str(depth_dir),
                 "--depth-scale", scale, "--protocol", "indoor", "--intrinsics",
                 *map(str, K), "--output", str(tmp_path / "folder"), "--quiet",
                 *model_args(tiny_checkpoint)]) == 0
    written = tmp_path / "depth_bag"
    assert run(str(tmp_path / "bag"), "--image-topic", "/cam/image", "--gt-depth-topic",
               "/cam/depth", "--protocol", "indoor", "--output", str(tmp_path / "bagout"),
               "--write-bag", str(written), "--write-storage", storage, "--quiet",
               *model_args(tiny_checkpoint)) == 0
    from_folder, from_bag = metrics(tmp_path / "folder"), metrics(tmp_path / "bagout")
    assert from_bag["pairing"]["images_without_gt"] == 1
    assert from_bag["pairing"]["unmatched_image_stamps_ns"] == [stamps[1]]
    folder_group, bag_group = from_folder["groups"]["indoor"], from_bag["groups"]["indoor"]
    assert folder_group["frames_scored"] == bag_group["frames_scored"] == 2
    for method in ("model", "constant", "ground_plane"):
        for kind in ("scaled", "raw"):
            for name, value in folder_group["methods"][method][kind].items():
                assert bag_group["methods"][method][kind][name] == pytest.approx(
                    value, rel=1e-6, abs=1e-9), (method, kind, name)
    check_written_bag(written, kitchen_frames, tiny_checkpoint, stamps)
    if storage == "mcap":
        check_mcap_channel_metadata(written)


def check_mcap_channel_metadata(path: Path) -> None:
    """Channels carry offered_qos_profiles and topic_type_hash, as rosbag2's MCAP writer does.

    Read with the independent ``mcap`` library, not with rosbags that wrote it.
    """
    from mcap.reader import make_reader

    with open(next(path.glob("*.mcap")), "rb") as handle:
        summary = make_reader(handle).get_summary()
    schemas = {s.id: s.name for s in summary.schemas.values()}
    channels = list(summary.channels.values())
    assert {c.topic for c in channels} == {"/cam/image", "/depth/image", "/depth/colorized",
                                          "/depth/points", "/depth/camera_info"}
    for channel in channels:
        msgtype = schemas[channel.schema_id]
        assert channel.metadata["topic_type_hash"] == TYPESTORE.hash_rihs01(msgtype)
        assert channel.metadata["topic_type_hash"].startswith("RIHS01_")
        assert "offered_qos_profiles" in channel.metadata


def check_written_bag(path: Path, frames, checkpoint: Path, stamps: list[int]) -> None:
    estimator = open_estimator(str(checkpoint), device="cpu")
    with AnyReader([path], default_typestore=TYPESTORE) as reader:
        counts = {topic: info.msgcount for topic, info in reader.topics.items()}
        # The node's (and replay's) topic names: one rviz or foxglove layout for every bag.
        assert counts == {"/cam/image": 2, "/depth/image": 2, "/depth/colorized": 2,
                          "/depth/points": 2, "/depth/camera_info": 2}
        seen = {}
        for connection, _, raw in reader.messages():
            msg = reader.deserialize(raw, connection.msgtype)
            stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            seen.setdefault(connection.topic, []).append((stamp, msg))
    for (stamp, image), (_, depth), (_, colour), (_, cloud) in zip(
            seen["/cam/image"], seen["/depth/image"], seen["/depth/colorized"],
            seen["/depth/points"]):
        index = stamps.index(stamp)
        rgb = frames[index][0]
        assert image.encoding == "rgb8"
        assert np.array_equal(image.data.reshape(rgb.shape), rgb)
        assert depth.encoding == "32FC1" and depth.step == 640 * 4
        values = depth.data.view(np.float32).reshape(480, 640)
        assert np.allclose(values, estimator.predict(rgb), rtol=1e-5)
        assert colour.encoding == "bgr8" and colour.data.size == 480 * 640 * 3
        assert [f.name for f in cloud.fields] == ["x", "y", "z", "rgb"]
        assert (cloud.height, cloud.width, cloud.point_step) == (240, 320, 32)
        points = cloud.data.view(np.float32).reshape(240, 320, 8)
        assert np.allclose(points[:, :, 2], values[::2, ::2])
        # x = z * (u - cx) / fx at u = 600.
        assert np.allclose(points[:, 300, 0], values[::2, 600] * (600 - K[2]) / K[0], rtol=1e-5)


def test_matching_is_nearest_within_tolerance():
    assert match_stamps([100, 200, 300], [195, 105, 330], 10) == [1, 0, None]
    assert match_stamps([100], [95, 105], 10) == [0]  # tie: the earlier message
    assert match_stamps([1, 2], [], 10) == [None, None]


def test_unknown_topic_lists_the_topics_of_the_bag(tmp_path, capsys):
    require_shared(KITTI_BAG)
    assert run(str(KITTI_BAG), "--image-topic", "/nope", "--gt-depth-topic",
               "/kitti/camera_color_left/depth_velodyne", "--no-model",
               "--output", str(tmp_path)) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "'/nope'" in error and "/kitti/camera_color_left/image_rect" in error
    assert "/kitti/camera_color_left/camera_info" in error


def test_truncated_mcap_keeps_partial_results(tmp_path, kitchen_frames, capsys):
    bag = tmp_path / "bag"
    write_test_bag(bag, "mcap", kitchen_frames, "16UC1")
    mcap = next(bag.glob("*.mcap"))
    data = mcap.read_bytes()
    mcap.write_bytes(data[:int(len(data) * 0.8)])  # a recording that stopped mid-write
    out = tmp_path / "out"
    assert run(str(bag), "--image-topic", "/cam/image", "--gt-depth-topic", "/cam/depth",
               "--protocol", "indoor", "--no-model", "--output", str(out), "--quiet") == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "truncated" in error[0] and "partial results" in error[0]
    data = metrics(out)
    assert 1 <= data["groups"]["indoor"]["frames_scored"] < 3
    assert "truncated" in data["pairing"]["read_error"]


def test_corrupt_bags_give_one_line_errors(tmp_path, kitchen_frames, capsys):
    bag = tmp_path / "bag"
    write_test_bag(bag, "sqlite3", kitchen_frames[:1], "16UC1")
    db = next(bag.glob("*.db3"))
    db.write_bytes(db.read_bytes()[:3000])
    args = ["--image-topic", "/cam/image", "--gt-depth-topic", "/cam/depth", "--no-model",
            "--output", str(tmp_path / "out")]
    assert run(str(bag), *args) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "cannot open bag" in error[0]
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "garbage.mcap").write_bytes(b"not a bag at all" * 100)
    assert run(str(garbage), *args) == 2
    assert "cannot open bag" in capsys.readouterr().err
    assert run(str(tmp_path / "missing"), *args) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_no_pairs_within_tolerance_is_an_error(tmp_path, kitchen_frames, capsys):
    bag = tmp_path / "bag"
    write_test_bag(bag, "sqlite3", kitchen_frames[:2], "32FC1")
    assert run(str(bag), "--image-topic", "/cam/image", "--gt-depth-topic", "/cam/depth",
               "--stamp-tolerance", "0.001", "--no-model", "--output",
               str(tmp_path / "out")) == 2
    assert "2 images, 2 GT messages" in capsys.readouterr().err
    shutil.rmtree(bag)


def test_ros1_bag_is_read_too(tmp_path, kitchen_frames):
    from rosbags.rosbag1 import Writer as Writer1

    store = get_typestore(Stores.ROS1_NOETIC)
    types = store.types
    path = tmp_path / "frames.bag"
    with Writer1(path) as writer:
        image_c = writer.add_connection("/cam/image", "sensor_msgs/msg/Image", typestore=store)
        gt_c = writer.add_connection("/cam/depth", "sensor_msgs/msg/Image", typestore=store)
        info_c = writer.add_connection("/cam/camera_info", "sensor_msgs/msg/CameraInfo",
                                       typestore=store)
        for i, (rgb, mm) in enumerate(kitchen_frames[:2]):
            stamp = T0 + i * 100_000_000
            time = types["builtin_interfaces/msg/Time"](sec=stamp // 10**9,
                                                       nanosec=stamp % 10**9)
            head = types["std_msgs/msg/Header"](seq=i, stamp=time, frame_id="cam")
            fx, fy, cx, cy = K
            info = types["sensor_msgs/msg/CameraInfo"](
                header=head, height=480, width=640, distortion_model="plumb_bob",
                D=np.zeros(5), K=np.array([fx, 0, cx, 0, fy, cy, 0, 0, 1.0]),
                R=np.eye(3).ravel(), P=np.array([fx, 0, cx, 0, 0, fy, cy, 0, 0, 0, 1.0, 0]),
                binning_x=0, binning_y=0, roi=types["sensor_msgs/msg/RegionOfInterest"](
                    x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
            for connection, array, encoding, msgtype in (
                    (image_c, rgb, "rgb8", "sensor_msgs/msg/Image"),
                    (gt_c, mm, "16UC1", "sensor_msgs/msg/Image")):
                rows = np.ascontiguousarray(array).reshape(480, -1).view(np.uint8)
                msg = types[msgtype](header=head, height=480, width=640, encoding=encoding,
                                     is_bigendian=0, step=rows.shape[1],
                                     data=rows.ravel().copy())
                writer.write(connection, stamp, store.serialize_ros1(msg, msgtype))
            writer.write(info_c, stamp, store.serialize_ros1(info, info.__msgtype__))
    out = tmp_path / "out"
    assert run(str(path), "--image-topic", "/cam/image", "--gt-depth-topic", "/cam/depth",
               "--protocol", "indoor", "--no-model", "--output", str(out), "--quiet") == 0
    data = metrics(out)
    assert data["pairing"]["matched"] == 2 and data["pairing"]["camera_infos"] == 2
    assert data["groups"]["indoor"]["frames_scored"] == 2


def test_corrupt_message_in_the_middle_keeps_earlier_frames(tmp_path, kitchen_frames, capsys):
    bag = tmp_path / "bag"
    with Writer(bag, version=8, storage_plugin=StoragePlugin.SQLITE3) as writer:
        image_c = writer.add_connection("/cam/image", "sensor_msgs/msg/Image",
                                        typestore=TYPESTORE)
        gt_c = writer.add_connection("/cam/depth", "sensor_msgs/msg/Image", typestore=TYPESTORE)
        for i, (rgb, mm) in enumerate(kitchen_frames):
            stamp = T0 + i * 100_000_000
            for connection, msg in ((image_c, image_msg(rgb, "rgb8", stamp)),
                                    (gt_c, image_msg(mm, "16UC1", stamp))):
                raw = TYPESTORE.serialize_cdr(msg, msg.__msgtype__)
                if i == 2 and connection is gt_c:
                    raw = raw[:40]  # a message cut short on disk
                writer.write(connection, stamp, raw)
    out = tmp_path / "out"
    assert run(str(bag), "--image-topic", "/cam/image", "--gt-depth-topic", "/cam/depth",
               "--protocol", "indoor", "--no-model", "--output", str(out), "--quiet") == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "corrupt or truncated after 5 messages" in error[0]
    assert metrics(out)["groups"]["indoor"]["frames_scored"] == 2


def test_limit_reports_what_was_scored(tmp_path, kitchen_frames, capsys):
    bag = tmp_path / "bag"
    write_test_bag(bag, "sqlite3", kitchen_frames, "16UC1")
    out = tmp_path / "out"
    assert run(str(bag), "--image-topic", "/cam/image", "--gt-depth-topic", "/cam/depth",
               "--protocol", "indoor", "--limit", "2", "--no-model", "--output", str(out)) == 0
    err = capsys.readouterr().err
    assert "scored 2 of 2 paired frames read (--limit 2); the bag has 3 images, 3 GT " \
           "messages, 3 matched" in err, err
    assert metrics(out)["groups"]["indoor"]["frames_scored"] == 2
    assert metrics(out)["source"]["limit"] == 2


def test_indoor_bag_gets_the_indoor_protocol_from_its_data(tmp_path, kitchen_frames, capsys):
    """A 16UC1 RGB-D bag (7-Scenes) without --protocol is scored as indoor, and says so."""
    bag = tmp_path / "bag"
    write_test_bag(bag, "sqlite3", kitchen_frames, "16UC1")
    common = ["--image-topic", "/cam/image", "--gt-depth-topic", "/cam/depth", "--quiet"]
    out = tmp_path / "auto"
    assert run(str(bag), *common, "--no-model", "--output", str(out)) == 0
    err = capsys.readouterr().err
    assert "note: protocol indoor, chosen from the data" in err, err
    assert list(metrics(out)["groups"]) == ["indoor"]
    assert metrics(out)["groups"]["indoor"]["protocol"]["crop"] == "none"
    # An explicit protocol wins, with a warning when the data says otherwise.
    out = tmp_path / "forced"
    assert run(str(bag), *common, "--protocol", "outdoor", "--no-model", "--output",
               str(out)) == 0
    err = capsys.readouterr().err
    assert "note: --protocol outdoor, but the ground truth looks indoor" in err, err
    assert list(metrics(out)["groups"]) == ["outdoor"]
    # --protocol indoor does not pick the model: the user is told how to.
    out = tmp_path / "model"
    assert run(str(bag), *common, "--limit", "1", "--no-baselines", "--backend", "eager",
               "--device", "cpu", "--output", str(out)) == 0
    assert "--protocol does not choose the model: --model indoor" in capsys.readouterr().err


def test_outdoor_bag_gets_the_outdoor_protocol_from_its_data(tmp_path, capsys):
    if not KITTI_BAG.is_dir():
        pytest.skip(f"{KITTI_BAG} not available")
    out = tmp_path / "out"
    assert run(str(KITTI_BAG), *KITTI_TOPICS, "--limit", "1", "--no-model", "--output",
               str(out), "--quiet") == 0
    assert "note: protocol outdoor, chosen from the data" in capsys.readouterr().err
    assert list(metrics(out)["groups"]) == ["outdoor"]
