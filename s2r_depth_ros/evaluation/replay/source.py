"""The bag side of a replay: a bag's camera messages in order, as rclpy messages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from ...ros.live import set_stamp
from ..bag_io import (
    CAMERA_INFO_TYPES,
    IMAGE_TYPES,
    BagError,
    BagSource,
    camera_info_beside,
    header_stamp_ns,
)


def _array(msg, name: str) -> list[float]:
    """A float array field; ROS 1 spells the CameraInfo matrices in capitals."""
    values = getattr(msg, name) if hasattr(msg, name) else getattr(msg, name.upper())
    return [float(v) for v in values]


def image_from_bag(msg) -> Image:
    """An rclpy Image with the fields of a rosbags (ROS 1 or 2) Image, header stamp kept."""
    out = Image(height=int(msg.height), width=int(msg.width), encoding=str(msg.encoding),
                is_bigendian=int(msg.is_bigendian), step=int(msg.step))
    out.data = np.asarray(msg.data, np.uint8).tobytes()  # bytes: fast; an ndarray is slow
    out.header.frame_id = str(msg.header.frame_id)
    set_stamp(out, header_stamp_ns(msg))
    return out


def camera_info_from_bag(msg) -> CameraInfo:
    """An rclpy CameraInfo with the fields of a rosbags (ROS 1 or 2) CameraInfo."""
    out = CameraInfo(height=int(msg.height), width=int(msg.width),
                     distortion_model=str(msg.distortion_model),
                     binning_x=int(msg.binning_x), binning_y=int(msg.binning_y))
    out.d, out.k, out.r, out.p = (_array(msg, n) for n in ("d", "k", "r", "p"))
    roi = msg.roi
    out.roi.x_offset, out.roi.y_offset = int(roi.x_offset), int(roi.y_offset)
    out.roi.height, out.roi.width = int(roi.height), int(roi.width)
    out.roi.do_rectify = bool(roi.do_rectify)
    out.header.frame_id = str(msg.header.frame_id)
    set_stamp(out, header_stamp_ns(msg))
    return out


@dataclass
class BagMessage:
    """One message to replay, still as the bag's (rosbags) message."""

    kind: str  # "image" or "camera_info"
    topic: str
    log_time_ns: int
    stamp_ns: int
    bag_msg: object

    def to_ros(self) -> Image | CameraInfo:
        """The rclpy message to publish."""
        return (image_from_bag if self.kind == "image" else camera_info_from_bag)(self.bag_msg)


class ReplaySource:
    """The image (and camera_info) messages of a bag in log-time order.

    Read through :class:`~s2r_depth_ros.evaluation.bag_io.BagSource`, so a damaged bag is
    replayed up to the damage and ``error`` says what was lost, as in every tool.
    """

    def __init__(self, path: Path, image_topic: str, camera_info_topic: str | None) -> None:
        self.path = path
        self.bag = BagSource(path)
        try:
            self.image_topic = self.bag.require(image_topic, IMAGE_TYPES, "image")
            camera_info_topic = camera_info_topic or camera_info_beside(self.bag.topics,
                                                                        image_topic)
            self.camera_info_topic = (self.bag.require(camera_info_topic, CAMERA_INFO_TYPES,
                                                       "camera_info")
                                      if camera_info_topic else None)
            self.image_count = self.bag.count(image_topic)
            if self.image_count == 0:
                raise BagError(f"image topic {image_topic!r} has no messages in {path}")
        except BaseException:
            self.bag.close()
            raise

    @property
    def error(self) -> str | None:
        """Why the bag could not be read to its end, if it could not."""
        return self.bag.error

    def messages(self, limit: int | None = None) -> Iterator[BagMessage]:
        """Messages up to the ``limit``-th image and camera_info recorded with it."""
        images = 0
        last_log_time = None  # set once the limit is reached
        for topic, log_time, msg in self.bag.read({self.image_topic, self.camera_info_topic}
                                                  - {None}):
            kind = "image" if topic == self.image_topic else "camera_info"
            if last_log_time is not None and (kind == "image" or log_time > last_log_time):
                return
            yield BagMessage(kind, topic, log_time, header_stamp_ns(msg), msg)
            images += kind == "image"
            if limit is not None and images >= limit and last_log_time is None:
                last_log_time = log_time

    def close(self) -> None:
        """Close the bag."""
        self.bag.close()
