"""Image messages -> numpy, without ROS: colour, compressed and depth images.

The decoders only read ``height``, ``width``, ``encoding``, ``step``, ``is_bigendian`` and
``data`` (``format`` and ``data`` for compressed images), so they work on rclpy messages and
on rosbags' deserialised messages alike, and need no ROS installation.
"""

from __future__ import annotations

import cv2
import numpy as np

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


def decode_image(msg) -> np.ndarray:
    """RGB of an Image or a CompressedImage message (told apart by the ``format`` field)."""
    return compressed_to_rgb(msg) if hasattr(msg, "format") else image_to_rgb(msg)
