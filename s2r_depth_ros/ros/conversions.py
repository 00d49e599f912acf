"""sensor_msgs <-> numpy without cv_bridge: images, depth, camera_info and point clouds.

Decoding lives in :mod:`s2r_depth_ros.pipeline.decode` (no ROS needed); it is re-exported
here for the code that reads messages.
"""

from __future__ import annotations

import array
import math

import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField, RegionOfInterest
from std_msgs.msg import Header

from ..geometry import XYZRGB_FLOATS, Intrinsics, cloud_shape, depth_to_cloud_array
from ..pipeline.decode import (  # noqa: F401 (re-exported)
    MAX_IMAGE_SIDE,
    ImageFormatError,
    compressed_to_rgb,
    image_to_depth,
    image_to_rgb,
)


def _with_data(msg, pixels: np.ndarray):
    """Set a message's byte payload with one copy.

    An ``array.array('B')`` is stored as it is by every distribution's generated setter;
    bytes or a numpy array would be checked element by element where field checks are on
    (Humble always: about a second for a 640x480 cloud).
    """
    payload = array.array("B")
    payload.frombytes(np.ascontiguousarray(pixels).view(np.uint8).reshape(-1))
    msg.data = payload
    return msg


def stamp_ns(msg) -> int:
    """A message header's stamp in nanoseconds."""
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def depth_to_msg(depth: np.ndarray, header: Header) -> Image:
    """A 32FC1 Image (metres) with the given header (REP 118)."""
    depth = np.asarray(depth, dtype=np.float32)
    return _with_data(Image(header=header, height=depth.shape[0], width=depth.shape[1],
                            encoding="32FC1", is_bigendian=False, step=depth.shape[1] * 4),
                      depth)


def colour_to_msg(pixels: np.ndarray, header: Header, encoding: str) -> Image:
    """An 8-bit three-channel Image ('rgb8' or 'bgr8') with the given header."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    return _with_data(Image(header=header, height=pixels.shape[0], width=pixels.shape[1],
                            encoding=encoding, is_bigendian=False, step=pixels.shape[1] * 3),
                      pixels)


def bgr_to_msg(bgr: np.ndarray, header: Header) -> Image:
    """A bgr8 Image with the given header."""
    return colour_to_msg(bgr, header, "bgr8")


def rgb_to_msg(rgb: np.ndarray, header: Header | None = None, frame_id: str = "") -> Image:
    """An rgb8 Image; without a header, one with ``frame_id`` and a zero stamp."""
    return colour_to_msg(rgb, header or Header(frame_id=frame_id), "rgb8")


def intrinsics_from_camera_info(info) -> Intrinsics:
    """fx, fy, cx, cy from P (rectified, as depth_image_proc does), else from K; validated."""
    p, k = [float(v) for v in info.p], [float(v) for v in info.k]
    fx, fy, cx, cy = (p[0], p[5], p[2], p[6]) if p[0] > 0 and p[5] > 0 else (k[0], k[4], k[2],
                                                                              k[5])
    width, height = int(info.width), int(info.height)
    values = (fx, fy, cx, cy)
    if not all(math.isfinite(v) for v in values) or fx <= 0 or fy <= 0:
        raise ImageFormatError(f"camera_info has invalid intrinsics fx={fx} fy={fy} cx={cx} "
                               f"cy={cy}")
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
        raise ImageFormatError(f"camera_info has bad size {width}x{height}")
    return Intrinsics(fx, fy, cx, cy, width, height)


def scaled_camera_info(source: CameraInfo, width: int, height: int,
                       header: Header) -> CameraInfo:
    """``source`` for the same camera at ``width`` x ``height`` (image_proc's resize rule).

    A copy of the message in which only the resolution-dependent entries change: fx, fy,
    cx, cy of K and P, P's Tx and Ty (they are fx and fy times a baseline), and the ROI.
    D, R, P's Tz, the distortion model and the binning are kept as they are.
    """
    sx, sy = width / int(source.width), height / int(source.height)
    k, p = [float(v) for v in source.k], [float(v) for v in source.p]
    for index in (0, 2):  # fx, cx
        k[index] *= sx
    for index in (4, 5):  # fy, cy
        k[index] *= sy
    for index in (0, 2, 3):  # fx, cx, Tx
        p[index] *= sx
    for index in (5, 6, 7):  # fy, cy, Ty
        p[index] *= sy
    roi = source.roi
    return CameraInfo(
        header=header, width=width, height=height, distortion_model=source.distortion_model,
        d=[float(v) for v in source.d], k=k, r=[float(v) for v in source.r], p=p,
        binning_x=source.binning_x, binning_y=source.binning_y,
        roi=RegionOfInterest(x_offset=round(roi.x_offset * sx), y_offset=round(roi.y_offset * sy),
                             width=round(roi.width * sx), height=round(roi.height * sy),
                             do_rectify=roi.do_rectify))


def camera_info_from_intrinsics(intrinsics: Intrinsics, header: Header) -> CameraInfo:
    """camera_info of an ideal pinhole: plumb_bob with zero distortion, R identity.

    image_geometry treats an empty distortion model as an unknown camera; five zeros
    say "no distortion".
    """
    fx, fy, cx, cy = intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
    return CameraInfo(header=header, width=intrinsics.width, height=intrinsics.height,
                      distortion_model="plumb_bob", d=[0.0] * 5,
                      k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0])


class PointCloudBuilder:
    """Organised PointCloud2 messages built in one reused payload.

    The points are written straight into the message's ``array.array`` payload, so a frame
    costs no allocation and no copy beyond rclpy's own. The returned message shares that
    payload: publish it (rclpy copies during ``publish``) before building the next one.
    """

    def __init__(self) -> None:
        self._payload = array.array("B")

    def build(self, depth: np.ndarray, intrinsics: Intrinsics, header: Header, stride: int = 1,
              rgb: np.ndarray | None = None) -> PointCloud2:
        """The cloud of ``depth`` (see :func:`depth_to_cloud_array`) as a message."""
        rows, cols, floats = cloud_shape(*depth.shape, stride, rgb is not None)
        size = rows * cols * floats * 4
        if len(self._payload) != size:
            self._payload = array.array("B", bytes(size))
        cloud = np.frombuffer(self._payload, np.float32).reshape(rows, cols, floats)
        depth_to_cloud_array(depth, intrinsics, stride, rgb, out=cloud)
        names = ["x", "y", "z"] + (["rgb"] if floats == XYZRGB_FLOATS else [])
        fields = [PointField(name=n, offset=o, datatype=PointField.FLOAT32, count=1)
                  for n, o in zip(names, (0, 4, 8, 16))]
        msg = PointCloud2(header=header, height=rows, width=cols, fields=fields,
                          is_bigendian=False, point_step=floats * 4, row_step=floats * 4 * cols,
                          is_dense=False)
        msg.data = self._payload
        return msg


# PointField datatypes a coordinate may have, as numpy types.
_COORDINATE_TYPES = {PointField.FLOAT32: "f4", PointField.FLOAT64: "f8"}


def points_from_cloud(msg: PointCloud2) -> np.ndarray:
    """The (N, 3) float64 x, y, z of a PointCloud2 (a LiDAR scan), in its frame_id.

    Any layout with float32 or float64 ``x``, ``y``, ``z`` fields (extra fields such as
    intensity or ring are skipped); organised or not, either byte order. Raises
    ImageFormatError for a cloud whose fields or sizes do not fit its data.
    """
    by_name = {field.name: field for field in msg.fields}
    missing = [name for name in "xyz" if name not in by_name]
    if missing:
        raise ImageFormatError(f"point cloud has no {', '.join(missing)} field(s)")
    order = ">" if msg.is_bigendian else "<"
    formats = []
    for name in "xyz":
        field = by_name[name]
        kind = _COORDINATE_TYPES.get(field.datatype)
        if kind is None or field.count != 1:
            raise ImageFormatError(f"point cloud field {name} must be one float32 or float64")
        if field.offset + int(kind[1]) > msg.point_step:
            raise ImageFormatError(f"point cloud field {name} lies outside point_step "
                                   f"{msg.point_step}")
        formats.append(order + kind)
    rows, cols, step = int(msg.height), int(msg.width), int(msg.point_step)
    row_step = int(msg.row_step) or cols * step
    if row_step < cols * step or len(msg.data) < rows * row_step:
        raise ImageFormatError(f"point cloud data has {len(msg.data)} bytes, {rows}x{cols} "
                               f"points of {step} bytes need {rows * row_step}")
    if rows * cols == 0:
        return np.zeros((0, 3))
    layout = np.dtype({"names": list("xyz"), "formats": formats,
                       "offsets": [by_name[n].offset for n in "xyz"], "itemsize": step})
    data = np.frombuffer(msg.data, np.uint8, rows * row_step).reshape(rows, row_step)
    points = data[:, :cols * step].copy().view(layout).reshape(-1)
    return np.stack([points[n].astype(np.float64) for n in "xyz"], axis=1)
