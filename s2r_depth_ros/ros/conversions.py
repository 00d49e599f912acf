"""sensor_msgs <-> numpy without cv_bridge: images, depth, camera_info and point clouds.

The decoders only read ``height``, ``width``, ``encoding``, ``step``, ``is_bigendian`` and
``data``, so they work on rclpy messages and on rosbags' deserialised messages alike.
"""

from __future__ import annotations

import array
import math

import cv2
import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header

from ..geometry import XYZRGB_FLOATS, Intrinsics, cloud_shape, depth_to_cloud_array

# Largest side accepted from the wire: a guard against absurd or corrupted sizes.
MAX_IMAGE_SIDE = 16384

# encoding -> (channels, dtype, conversion to RGB or None for depth encodings)
COLOUR_ENCODINGS = {
    "rgb8": (3, np.uint8, None),
    "bgr8": (3, np.uint8, cv2.COLOR_BGR2RGB),
    "rgba8": (4, np.uint8, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, np.uint8, cv2.COLOR_BGRA2RGB),
    "mono8": (1, np.uint8, cv2.COLOR_GRAY2RGB),
    "8UC3": (3, np.uint8, None),
    "8UC1": (1, np.uint8, cv2.COLOR_GRAY2RGB),
}
DEPTH_ENCODINGS = {"32FC1": np.float32, "16UC1": np.uint16, "mono16": np.uint16}


class ImageFormatError(ValueError):
    """A message cannot be decoded: unknown encoding, inconsistent sizes, truncated data."""


def _pixels(msg, channels: int, dtype) -> np.ndarray:
    """View a message's bytes as an H x W x C array, honouring ``step`` and endianness."""
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if not (0 < height <= MAX_IMAGE_SIDE and 0 < width <= MAX_IMAGE_SIDE):
        raise ImageFormatError(f"bad image size {width}x{height}")
    itemsize = np.dtype(dtype).itemsize
    row_bytes = width * channels * itemsize
    if step < row_bytes:
        raise ImageFormatError(f"step {step} is smaller than a row ({row_bytes} bytes) for "
                               f"{width}x{height} {msg.encoding}")
    data = msg.data
    size = len(data)
    if size < step * (height - 1) + row_bytes:
        raise ImageFormatError(f"data has {size} bytes, {step * height} expected for "
                               f"{width}x{height} {msg.encoding} with step {step}")
    buffer = np.frombuffer(memoryview(data).cast("B") if not isinstance(data, bytes | bytearray)
                           else data, np.uint8, count=step * (height - 1) + row_bytes)
    rows = np.lib.stride_tricks.as_strided(buffer, (height, row_bytes), (step, 1))
    byte_order = ">" if msg.is_bigendian else "<"
    typed = np.dtype(dtype).newbyteorder(byte_order) if itemsize > 1 else np.dtype(dtype)
    array = np.ascontiguousarray(rows).view(typed).reshape(height, width, channels)
    return array.astype(dtype, copy=False)


def image_to_rgb(msg) -> np.ndarray:
    """Decode a colour or mono Image message into an H x W x 3 uint8 RGB array."""
    encoding = str(msg.encoding)
    if encoding not in COLOUR_ENCODINGS:
        raise ImageFormatError(
            f"unsupported encoding {encoding!r}; expected one of {sorted(COLOUR_ENCODINGS)}")
    channels, dtype, conversion = COLOUR_ENCODINGS[encoding]
    pixels = _pixels(msg, channels, dtype)
    if conversion is None:
        return pixels
    return cv2.cvtColor(pixels if channels > 1 else pixels[:, :, 0], conversion)


def compressed_to_rgb(msg) -> np.ndarray:
    """Decode a CompressedImage (jpeg/png) into RGB."""
    data = np.frombuffer(bytes(msg.data), np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise ImageFormatError(f"cannot decode compressed image (format {msg.format!r})")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def image_to_depth(msg) -> np.ndarray:
    """Decode a depth Image: 32FC1 metres, or 16UC1/mono16 millimetres; invalid -> NaN."""
    encoding = str(msg.encoding)
    if encoding not in DEPTH_ENCODINGS:
        raise ImageFormatError(
            f"unsupported depth encoding {encoding!r}; expected one of {sorted(DEPTH_ENCODINGS)}")
    raw = _pixels(msg, 1, DEPTH_ENCODINGS[encoding])[:, :, 0]
    if raw.dtype == np.uint16:
        depth = raw.astype(np.float32) * 1e-3
        depth[raw == 0] = np.nan
        return depth
    depth = raw.astype(np.float32, copy=True)
    depth[~np.isfinite(depth) | (depth <= 0)] = np.nan
    return depth


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


def camera_info_for(source: CameraInfo | None, intrinsics: Intrinsics,
                    header: Header) -> CameraInfo:
    """camera_info matching a depth image: K and P rescaled, distortion and R kept."""
    info = CameraInfo(header=header, width=intrinsics.width, height=intrinsics.height)
    fx, fy, cx, cy = intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    if source is not None:
        info.distortion_model = source.distortion_model
        info.d = list(source.d)
        info.r = list(source.r)
        sx = intrinsics.width / max(int(source.width), 1)
        info.p[3] = float(source.p[3]) * sx  # baseline term Tx = -fx * B scales with fx
    return info


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
