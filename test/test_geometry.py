"""Back-projection of depth to points, and the reused-payload PointCloud2 builder."""

from __future__ import annotations

import numpy as np
import pytest
from std_msgs.msg import Header

from s2r_depth_ros.geometry import Intrinsics, depth_to_cloud_array
from s2r_depth_ros.ros.conversions import PointCloudBuilder

CAMERA = Intrinsics(fx=100.0, fy=120.0, cx=3.0, cy=2.0, width=8, height=6)


def scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0.5, 20.0, (6, 8)).astype(np.float32)
    depth[0, 0], depth[1, 1], depth[2, 2], depth[3, 3] = np.nan, np.inf, 0.0, -1.0
    return depth, rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)


def test_points_are_the_pinhole_back_projection_with_nan_for_invalid_depth():
    depth, rgb = scene()
    cloud = depth_to_cloud_array(depth, CAMERA, rgb=rgb)
    assert cloud.shape == (6, 8, 8) and cloud.dtype == np.float32
    v, u = 4, 6
    z = depth[v, u]
    np.testing.assert_allclose(cloud[v, u, :3], [(u - 3.0) / 100.0 * z, (v - 2.0) / 120.0 * z,
                                                 z], rtol=1e-6)
    for invalid in [(0, 0), (1, 1), (2, 2), (3, 3)]:
        assert np.isnan(cloud[invalid][:3]).all()
    # Packed colour: little-endian 0x00RRGGBB, padding zero.
    packed = cloud.view(np.uint32)[:, :, 4]
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    np.testing.assert_array_equal(packed, (r << 16) | (g << 8) | b)
    assert not cloud.view(np.uint32)[:, :, [3, 5, 6, 7]].any()


def test_stride_and_xyz_only_layout():
    depth, _ = scene()
    full = depth_to_cloud_array(depth, CAMERA)
    strided = depth_to_cloud_array(depth, CAMERA, stride=3)
    assert full.shape == (6, 8, 4) and strided.shape == (2, 3, 4)
    np.testing.assert_array_equal(strided, full[::3, ::3])
    with pytest.raises(ValueError, match="stride"):
        depth_to_cloud_array(depth, CAMERA, stride=0)


def test_output_buffer_receives_the_same_points():
    depth, rgb = scene()
    out = np.full((6, 8, 8), 7.0, np.float32)
    result = depth_to_cloud_array(depth, CAMERA, rgb=rgb, out=out)
    assert result is out
    np.testing.assert_array_equal(out.view(np.uint32),
                                  depth_to_cloud_array(depth, CAMERA, rgb=rgb).view(np.uint32))
    with pytest.raises(ValueError, match="out must be"):
        depth_to_cloud_array(depth, CAMERA, out=np.zeros((6, 8, 8), np.float32))


def test_builder_gives_consecutive_clouds_in_the_documented_layout():
    builder = PointCloudBuilder()
    header = Header(frame_id="cam")
    first_depth, rgb = scene(0)
    msg = builder.build(first_depth, CAMERA, header, rgb=rgb)
    assert (msg.height, msg.width, msg.point_step, msg.row_step) == (6, 8, 32, 256)
    assert [(f.name, f.offset) for f in msg.fields] == [("x", 0), ("y", 4), ("z", 8),
                                                        ("rgb", 16)]
    assert msg.header.frame_id == "cam" and not msg.is_dense and not msg.is_bigendian
    np.testing.assert_array_equal(
        np.frombuffer(msg.data, np.uint32).reshape(6, 8, 8),
        depth_to_cloud_array(first_depth, CAMERA, rgb=rgb).view(np.uint32))

    second_depth, _ = scene(1)
    again = builder.build(second_depth, CAMERA, header, rgb=rgb)
    np.testing.assert_array_equal(
        np.frombuffer(again.data, np.uint32).reshape(6, 8, 8),
        depth_to_cloud_array(second_depth, CAMERA, rgb=rgb).view(np.uint32))

    xyz = builder.build(second_depth, CAMERA, header, stride=2)
    assert (xyz.height, xyz.width, xyz.point_step) == (3, 4, 16) and len(xyz.data) == 3 * 4 * 16


def test_point_cloud_fields_are_read_in_any_layout():
    """points_from_cloud reads the node's own organised clouds and LiDAR layouts (float64,
    big-endian, padded rows) and refuses clouds whose fields do not fit their data."""
    from sensor_msgs.msg import PointCloud2, PointField
    from std_msgs.msg import Header

    from s2r_depth_ros.pipeline import ImageFormatError
    from s2r_depth_ros.ros.conversions import PointCloudBuilder, points_from_cloud
    depth = np.full((6, 8), 2.0, np.float32)
    depth[0, 0] = np.nan
    camera = Intrinsics(5.0, 5.0, 3.5, 2.5, 8, 6)
    msg = PointCloudBuilder().build(depth, camera, Header(frame_id="cam"))
    points = points_from_cloud(msg)
    assert points.shape == (48, 3) and np.isnan(points[0]).all()
    assert np.allclose(points[1:, 2], 2.0)
    assert np.allclose(points[1], [(1 - 3.5) / 5 * 2, (0 - 2.5) / 5 * 2, 2.0])

    xyz = np.arange(12, dtype=np.float64).reshape(4, 3)
    layout = np.zeros((2, 2), dtype=[("ring", ">u2"), ("x", ">f8"), ("y", ">f8"),
                                     ("z", ">f8"), ("pad", "u1", 6)])  # 32-byte points
    layout["x"].flat, layout["y"].flat, layout["z"].flat = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    rows = np.zeros((2, 80), np.uint8)  # 16 bytes of padding after each row
    rows[:, :64] = layout.view(np.uint8).reshape(2, 64)
    fields = [PointField(name=n, offset=o, datatype=PointField.FLOAT64, count=1)
              for n, o in (("x", 2), ("y", 10), ("z", 18))]
    big = PointCloud2(height=2, width=2, fields=fields, is_bigendian=True, point_step=32,
                      row_step=80, data=rows.tobytes())
    assert np.array_equal(points_from_cloud(big), xyz)

    short = PointCloud2(height=2, width=2, fields=fields, is_bigendian=True, point_step=32,
                        row_step=80, data=rows.tobytes()[:100])
    with pytest.raises(ImageFormatError, match="bytes"):
        points_from_cloud(short)
    no_z = PointCloud2(height=2, width=2, fields=fields[:2], is_bigendian=True, point_step=32,
                       row_step=80, data=rows.tobytes())
    with pytest.raises(ImageFormatError, match="no z"):
        points_from_cloud(no_z)
