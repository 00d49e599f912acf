"""Metric scale in the node, end to end over DDS: sparse depth scales depth and points, the
support rule refuses too few samples, and /diagnostics says which scale is in use."""

from __future__ import annotations

import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from ros_harness import camera_info_msg, image_msg, rgb_image
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from test_depth_node import Session, cloud_array, float_image

from s2r_depth_ros.ros.conversions import depth_to_msg
from s2r_depth_ros.ros.live import stamp_ns


def sparse_msg(depth: np.ndarray, count: int, stamp: int, seed: int = 0) -> Image:
    """``count`` pixels of ``depth`` as a 32FC1 sparse depth image (NaN elsewhere)."""
    rng = np.random.default_rng(seed)
    valid = np.flatnonzero(np.isfinite(depth))
    sparse = np.full(depth.shape, np.nan, np.float32)
    picked = rng.choice(valid, count, replace=False)
    sparse.flat[picked] = depth.flat[picked]
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    return depth_to_msg(sparse, header)


def diagnostics(session: Session) -> dict[str, str]:
    array = session.peer.received["/diagnostics"][-1]
    return {kv.key: kv.value for kv in array.status[0].values}


def unscaled_depth(s: Session, rgb: np.ndarray, info, stamp: int, sparse_pub) -> np.ndarray:
    """The node's depth of a first frame (no sparse input yet), once ``sparse_pub`` is heard."""
    depth = s.request(image_msg(rgb, "rgb8", stamp=stamp, frame_id="cam"), info)
    assert depth is not None, s.node.log()
    assert s.peer.publish_until(lambda: None, lambda: sparse_pub.get_subscription_count(),
                                timeout=30), s.node.log()
    return float_image(depth)


def test_sparse_depth_scales_depth_and_points_and_too_few_samples_are_refused(
        tmp_path, tiny_checkpoint):
    s = Session(tmp_path, tiny_checkpoint, scale_mode="sparse", border_margin=0,
                scale_hold_timeout=5.0, diagnostics_period=0.2)
    s.peer.listen(DiagnosticArray, "/diagnostics")
    sparse_pub = s.peer.publisher(Image, "/sparse_depth")
    info = camera_info_msg(160, 120)
    rgb = rgb_image(120, 160, seed=3)
    try:
        # No sparse depth yet: the network's metres, source none.
        plain = unscaled_depth(s, rgb, info, 31_000_000_000, sparse_pub)
        finite = np.isfinite(plain)

        def frame_with(sparse: Image, image: Image, topic: str = "/depth/points"):
            def publish():
                # The sparse depth first: the node pairs a frame with the newest sample set
                # whose stamp is within sparse_max_age of the frame's.
                s.info_pub.publish(info)
                sparse_pub.publish(sparse)
                time.sleep(0.2)
                s.image_pub.publish(image)
            answered = lambda: any(stamp_ns(m) == stamp_ns(image)  # noqa: E731
                                   for m in list(s.peer.received[topic]))
            assert s.peer.publish_until(publish, answered, timeout=60), s.node.log()
            return s.matching("/depth/image", image)[0], s.matching("/depth/points", image)[0]

        # 2 % of the pixels measured at 3x the network's depth, at the frame's stamp.
        second = image_msg(rgb, "rgb8", stamp=32_000_000_000, frame_id="cam")
        depth, points = frame_with(sparse_msg(plain * 3.0, 384, 32_000_000_000), second)
        scaled = float_image(depth)
        assert np.allclose(scaled[finite], plain[finite] * 3.0, rtol=1e-3)
        cloud = cloud_array(points)
        assert np.allclose(cloud[:, :, 2][finite], scaled[finite], rtol=1e-5)
        assert s.peer.publish_until(lambda: None, lambda: s.peer.count("/diagnostics") > 0
                                    and diagnostics(s).get("scale_source") == "sparse", 10)
        values = diagnostics(s)
        assert float(values["scale"]) == pytest.approx(3.0, rel=1e-3)
        assert float(values["scale_support"]) == pytest.approx(1.0)

        # 10 samples (the support rule asks for 20): refused, the last factor is held.
        third = image_msg(rgb, "rgb8", stamp=32_100_000_000, frame_id="cam")
        depth, _ = frame_with(sparse_msg(plain * 6.0, 10, 32_100_000_000), third)
        assert np.allclose(float_image(depth)[finite], plain[finite] * 3.0, rtol=1e-3)
        assert s.peer.publish_until(lambda: None, lambda: "20" in diagnostics(s).get(
            "scale_reason", ""), 10), diagnostics(s)
    finally:
        assert s.close() == 0, s.node.log()



def lidar_cloud(points: np.ndarray, stamp: int, frame_id: str = "lidar"):
    """An unorganised PointCloud2 with x, y, z float32 and an intensity field, as a LiDAR
    driver publishes it."""
    from s2r_depth_ros.ros.conversions import PointCloud2, PointField
    data = np.zeros((len(points), 4), np.float32)
    data[:, :3] = points
    data[:, 3] = 7.0  # intensity
    fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
              for i, n in enumerate(("x", "y", "z", "intensity"))]
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    return PointCloud2(header=header, height=1, width=len(points), fields=fields,
                       is_bigendian=False, point_step=16, row_step=16 * len(points),
                       is_dense=True, data=data.tobytes())


def test_lidar_points_with_a_fixed_transform_scale_depth(tmp_path, tiny_checkpoint):
    """A LiDAR (x forward, z up, 0.2 m above the camera) seen through the
    sparse_points_transform parameter: its points, 3x the network's depth, give a scale of 3."""
    from s2r_depth_ros.geometry import rigid_transform
    from s2r_depth_ros.ros.conversions import PointCloud2
    # The LiDAR frame in the camera optical frame: x_lidar = z_cam, y_lidar = -x_cam,
    # z_lidar = -y_cam, origin 0.2 m above the camera (optical y points down).
    pose = [0.0, -0.2, 0.0, 0.5, -0.5, 0.5, 0.5]
    camera_from_lidar = rigid_transform(pose[:3], pose[3:])
    assert np.allclose(camera_from_lidar[:3, :3] @ [1, 0, 0], [0, 0, 1])
    s = Session(tmp_path, tiny_checkpoint, scale_mode="sparse", border_margin=0,
                sparse_points_transform=pose, diagnostics_period=0.2, sparse_max_age=0.5)
    s.peer.listen(DiagnosticArray, "/diagnostics")
    points_pub = s.peer.publisher(PointCloud2, "/sparse_points")
    info = camera_info_msg(160, 120, frame_id="cam")
    rgb = rgb_image(120, 160, seed=5)
    try:
        plain = unscaled_depth(s, rgb, info, 41_000_000_000, points_pub)
        # 300 pixels' points at 3x the network's depth, in the LiDAR frame.
        rng = np.random.default_rng(1)
        rows, cols = np.nonzero(np.isfinite(plain))
        pick = rng.choice(len(rows), 300, replace=False)
        v, u = rows[pick], cols[pick]
        z = plain[v, u].astype(np.float64) * 3.0
        k = info.k
        camera_xyz = np.stack([(u - k[2]) / k[0] * z, (v - k[5]) / k[4] * z, z, np.ones_like(z)])
        lidar_xyz = (np.linalg.inv(camera_from_lidar) @ camera_xyz)[:3].T
        second = image_msg(rgb, "rgb8", stamp=42_000_000_000, frame_id="cam")
        cloud = lidar_cloud(lidar_xyz, 42_000_000_000)

        def publish():
            s.info_pub.publish(info)
            points_pub.publish(cloud)
            time.sleep(0.2)
            s.image_pub.publish(second)
        answered = lambda: bool(s.matching("/depth/image", second))  # noqa: E731
        assert s.peer.publish_until(publish, answered, timeout=60), s.node.log()
        scaled = float_image(s.matching("/depth/image", second)[0])
        finite = np.isfinite(plain)
        assert np.allclose(scaled[finite], plain[finite] * 3.0, rtol=1e-3)
        assert s.peer.publish_until(lambda: None, lambda: s.peer.count("/diagnostics") > 0
                                    and diagnostics(s).get("scale_source") == "sparse", 10)
        assert float(diagnostics(s)["scale"]) == pytest.approx(3.0, rel=1e-3)
    finally:
        assert s.close() == 0, s.node.log()


def test_base_frame_without_a_transform_keeps_serving_unscaled(tmp_path, tiny_checkpoint):
    """Ground scale from TF (base_frame) with no TF in the graph (and, where tf2_ros is not
    installed, no TF at all): the node serves the network's metres and says why."""
    import importlib.util
    s = Session(tmp_path, tiny_checkpoint, scale_mode="ground", base_frame="base_footprint",
                diagnostics_period=0.2)
    s.peer.listen(DiagnosticArray, "/diagnostics")
    try:
        frame = image_msg(rgb_image(120, 160, seed=2), "rgb8", stamp=51_000_000_000,
                          frame_id="cam")
        assert s.request(frame, camera_info_msg(160, 120, frame_id="cam")) is not None, (
            s.node.log())
        assert s.peer.publish_until(lambda: None, lambda: s.peer.count("/diagnostics") > 0
                                    and "no camera_height" in diagnostics(s).get(
                                        "scale_reason", ""), 10), s.node.log()
        assert diagnostics(s)["scale_source"] == "none"
        if importlib.util.find_spec("tf2_ros") is None:
            assert ("tf2_ros is not installed, so TF is not read: base_frame 'base_footprint' "
                    "is not used") in s.node.log()
    finally:
        assert s.close() == 0, s.node.log()
