"""Bags with ``rosbags`` (no ROS install needed): the one bag module of every tool.

Reading (:class:`BagSource`): ROS 2 bags (sqlite3 and MCAP) and ROS 1 ``.bag`` files through
``rosbags.highlevel.AnyReader``; an MCAP recording that lost its end is salvaged up to the
damage (:mod:`.mcap_salvage`), and every tool reports it the same way: results for what was
read, then exit 2 with the reason. :class:`BagPairReader` pairs images with ground truth by
header stamp (nearest GT within a tolerance) in two passes: the first reads stamps only and
fixes the pairing; the second decodes only paired messages, holding a message just until its
partner arrives. Message -> numpy decoding is shared with the ROS node
(:mod:`s2r_depth_ros.ros.conversions`: rgb8, bgr8, rgba8, bgra8, mono8, 32FC1 metres,
16UC1/mono16 millimetres; ``step`` and ``is_bigendian`` honoured).

Writing (:class:`BagWriter`; :class:`BackgroundBagWriter` on its own thread;
:class:`DepthBagWriter` for predictions): a rosbag2 bag, metadata **version 8** (rosbags
writes 8 or 9 only). Version 8 stores ``offered_qos_profiles`` as a YAML string like Humble's
version 5 does, and Humble's metadata reader takes the fields it knows and ignores the newer
ones (``custom_data``, ``ros_distro``, ``type_description_hash``); version 9 changes the QoS
layout. MCAP channels carry ``offered_qos_profiles`` and ``topic_type_hash`` (RIHS01) in their
metadata, as rosbag2's own MCAP writer does. Storage defaults to sqlite3, the plugin every
distribution ships; MCAP needs ``ros-<distro>-rosbag2-storage-mcap`` on Humble. Message
definitions come from rosbags' Humble typestore. Depth outputs go under the node's names
(:data:`DEPTH_OUTPUTS` below ``/depth``), so one rviz or foxglove layout serves every bag.
"""

from __future__ import annotations

import queue
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.rosbag2.storage_mcap import Channel, McapWriter, write_channel, write_string
from rosbags.typesys import Stores, get_typestore

from ..errors import first_line
from ..geometry import Intrinsics, depth_to_cloud_array
from ..inference.colorize import colorize_depth
from ..ros.conversions import (
    ImageFormatError,
    image_to_depth,
    image_to_rgb,
    intrinsics_from_camera_info,
)
from .mcap_salvage import McapSalvageSource

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/Image")
CAMERA_INFO_TYPES = ("sensor_msgs/msg/CameraInfo", "sensor_msgs/CameraInfo")
STORAGES = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}
# Metadata version written (see the module docstring for why 8).
BAG_VERSION = 8
# The depth node's outputs, relative to its depth namespace, in the order it publishes them;
# every tool that writes depth into a bag uses these names.
DEPTH_NAMESPACE = "/depth"
DEPTH_OUTPUTS = {"image": "sensor_msgs/msg/Image", "colorized": "sensor_msgs/msg/Image",
                 "camera_info": "sensor_msgs/msg/CameraInfo",
                 "points": "sensor_msgs/msg/PointCloud2"}

__all__ = [
    "BAG_VERSION", "DEPTH_NAMESPACE", "DEPTH_OUTPUTS", "BackgroundBagWriter", "BagError",
    "BagPair", "BagPairReader", "BagSource", "BagWriter", "DepthBagWriter", "ImageFormatError",
    "PairingStats", "camera_from_info", "camera_info_beside", "depth_topics",
    "header_stamp_ns", "image_to_depth", "image_to_rgb", "match_stamps", "open_bag",
    "require_topic", "rgb_image_msg",
]


class BagError(ValueError):
    """A bag cannot be read or written: missing, corrupt, truncated, unknown topic."""


def depth_topics(namespace: str = DEPTH_NAMESPACE) -> dict[str, str]:
    """Output name ('image', 'colorized', ...) -> full topic under ``namespace``."""
    return {name: f"{namespace.rstrip('/')}/{name}" for name in DEPTH_OUTPUTS}


# ---- reading ----
def _typestore_for(path: Path):
    return get_typestore(Stores.ROS1_NOETIC if path.suffix == ".bag" else Stores.ROS2_HUMBLE)


def open_bag(path: str | Path) -> AnyReader:
    """An opened AnyReader; failures become one-line :class:`BagError` messages."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"bag not found: {path}")
    try:
        reader = AnyReader([path], default_typestore=_typestore_for(path))
        reader.open()
    except (AnyReaderError, sqlite3.Error, struct.error, EOFError, OSError, ValueError,
            KeyError, IndexError) as exc:
        raise BagError(f"cannot open bag {path}: {first_line(exc)}") from exc
    return reader


class _AnySource:
    """Messages through rosbags' AnyReader (the normal path)."""

    damage: str | None = None

    def __init__(self, path: Path) -> None:
        self.reader = open_bag(path)
        self.topics = {name: info.msgtype for name, info in self.reader.topics.items()}
        self.counts = {name: int(info.msgcount) for name, info in self.reader.topics.items()}

    def messages(self, topics: set[str]) -> Iterator[tuple[str, str, int, bytes]]:
        connections = [c for c in self.reader.connections if c.topic in topics]
        for connection, log_time, raw in self.reader.messages(connections):
            yield connection.topic, connection.msgtype, log_time, raw

    def deserialize(self, raw: bytes, msgtype: str):
        return self.reader.deserialize(raw, msgtype)

    def close(self) -> None:
        self.reader.close()


def _open_source(path: Path):
    """AnyReader, or for an MCAP bag that lost its index and footer, a salvage scan."""
    try:
        return _AnySource(path)
    except BagError as exc:
        mcap_files = sorted(path.glob("*.mcap")) if path.is_dir() else (
            [path] if path.suffix == ".mcap" else [])
        if len(mcap_files) != 1:
            raise
        try:
            source = McapSalvageSource(
                mcap_files[0], f"bag {path} is truncated or damaged "
                f"({first_line(exc.__cause__ or exc)})")
        except (struct.error, UnicodeDecodeError, ValueError, OSError):
            raise exc from None
        if not source.topics:
            raise
        return source


class BagSource:
    """One bag opened for reading, with the same behaviour for damaged bags in every tool.

    ``error`` is set when the bag cannot be read to its end: from the start for a salvaged
    MCAP file (what was lost), or when a read fails part-way. Tools keep the results for
    what was read and then exit with that reason.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._impl = _open_source(self.path)
        self.topics: dict[str, str] = dict(self._impl.topics)
        self.salvaged = self._impl.damage is not None
        self.error: str | None = None
        if self.salvaged:
            self.error = (f"{self._impl.damage}; salvaged {sum(self._impl.counts.values())} "
                          "messages from before the damage")

    def count(self, topic: str) -> int:
        """Messages on ``topic`` (for a salvaged bag: those before the damage)."""
        return self._impl.counts.get(topic, 0)

    def read(self, topics: set[str], limit_messages: int | None = None
             ) -> Iterator[tuple[str, int, object]]:
        """(topic, log time, message) in bag order; a read failure ends it and sets ``error``."""
        count = 0
        try:
            for topic, msgtype, log_time, raw in self._impl.messages(topics):
                if limit_messages is not None and count >= limit_messages:
                    return
                message = self._impl.deserialize(raw, msgtype)
                count += 1
                yield topic, int(log_time), message
        except GeneratorExit:
            raise
        except Exception as exc:  # any failure inside a damaged file ends the read here
            self.error = (f"bag {self.path} is corrupt or truncated after {count} "
                          f"messages: {first_line(exc)}")

    def require(self, topic: str, types: tuple[str, ...], what: str) -> str:
        """``topic`` if the bag has it with one of ``types`` (see :func:`require_topic`)."""
        return require_topic(self.topics, topic, types, what, self.path)

    def close(self) -> None:
        """Close the bag."""
        self._impl.close()

    def __enter__(self) -> BagSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def header_stamp_ns(msg) -> int:
    """``header.stamp`` in nanoseconds (ROS 2 ``nanosec`` or ROS 1 ``nsec``)."""
    stamp = msg.header.stamp
    nanos = stamp.nanosec if hasattr(stamp, "nanosec") else stamp.nsec
    return int(stamp.sec) * 1_000_000_000 + int(nanos)


def camera_from_info(msg) -> Intrinsics:
    """Intrinsics of a ROS 1 or ROS 2 CameraInfo message (P if set, else K; validated)."""
    return intrinsics_from_camera_info(_LowerCaseInfo(msg))


class _LowerCaseInfo:
    """ROS 1 CameraInfo spells K/P in capitals; present them the ROS 2 way."""

    def __init__(self, msg) -> None:
        self.k = msg.k if hasattr(msg, "k") else msg.K
        self.p = msg.p if hasattr(msg, "p") else msg.P
        self.width, self.height = msg.width, msg.height


def match_stamps(image_stamps: list[int], gt_stamps: list[int],
                 tolerance_ns: int) -> list[int | None]:
    """For each image stamp the index of the nearest GT stamp within tolerance, else None.

    Ties go to the earlier GT message, so the pairing does not depend on anything but stamps
    and bag order.
    """
    if not gt_stamps:
        return [None] * len(image_stamps)
    order = sorted(range(len(gt_stamps)), key=lambda j: (gt_stamps[j], j))
    sorted_stamps = np.array([gt_stamps[j] for j in order], np.int64)
    matches: list[int | None] = []
    for stamp in image_stamps:
        pos = int(np.searchsorted(sorted_stamps, stamp))
        best, best_gap = None, None
        for candidate in (pos - 1, pos):
            if 0 <= candidate < len(order):
                gap = abs(int(sorted_stamps[candidate]) - stamp)
                if gap <= tolerance_ns and (best_gap is None or gap < best_gap):
                    best, best_gap = order[candidate], gap
        matches.append(best)
    return matches


def require_topic(topics: dict[str, str], topic: str, types: tuple[str, ...], what: str,
                  path: str | Path) -> str:
    """``topic`` if the bag has it with one of ``types``; else a :class:`BagError` listing all."""
    if topic not in topics:
        listing = ", ".join(f"{t} [{m}]" for t, m in sorted(topics.items()))
        raise BagError(f"{what} topic {topic!r} is not in {path}; topics: {listing}")
    if topics[topic] not in types:
        raise BagError(f"{what} topic {topic!r} has type {topics[topic]}, expected {types[0]}")
    return topic


def camera_info_beside(topics: dict[str, str], image_topic: str) -> str | None:
    """The CameraInfo topic next to ``image_topic`` (the usual layout), if the bag has one."""
    guess = image_topic.rsplit("/", 1)[0] + "/camera_info"
    return guess if topics.get(guess) in CAMERA_INFO_TYPES else None


@dataclass
class BagPair:
    """One image with its ground truth, decoded."""

    index: int
    stamp_ns: int
    log_time_ns: int
    frame_id: str
    rgb: np.ndarray
    gt: np.ndarray
    camera: Intrinsics | None
    gt_offset_ns: int


@dataclass
class PairingStats:
    """What the pairing found; ``error`` is set when the bag could not be read to its end."""

    images: int = 0
    gt_messages: int = 0
    camera_infos: int = 0
    matched: int = 0
    unmatched_image_stamps: list[int] = field(default_factory=list)
    decode_errors: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return {"images": self.images, "gt_messages": self.gt_messages,
                "camera_infos": self.camera_infos, "matched": self.matched,
                "images_without_gt": len(self.unmatched_image_stamps),
                "unmatched_image_stamps_ns": self.unmatched_image_stamps,
                "decode_errors": self.decode_errors, "read_error": self.error}


class BagPairReader:
    """Image/GT pairs of one bag, paired by header stamp (see the module docstring)."""

    def __init__(self, path: str | Path, image_topic: str, gt_topic: str,
                 camera_info_topic: str | None = None, tolerance_s: float = 0.02) -> None:
        if tolerance_s < 0:
            raise ValueError(f"stamp tolerance must be >= 0, got {tolerance_s}")
        self.path = Path(path)
        self.source = BagSource(self.path)
        self.topics = dict(self.source.topics)
        self.image_topic = self._require(image_topic, IMAGE_TYPES, "image")
        self.gt_topic = self._require(gt_topic, IMAGE_TYPES, "ground-truth depth")
        if camera_info_topic is None:
            camera_info_topic = camera_info_beside(self.topics, image_topic)
        self.camera_info_topic = (self._require(camera_info_topic, CAMERA_INFO_TYPES,
                                                "camera_info")
                                  if camera_info_topic else None)
        self.tolerance_ns = int(round(tolerance_s * 1e9))
        self.stats = PairingStats()
        self.salvaged = self.source.salvaged
        self._matches: list[int | None] = []
        self._image_stamps: list[int] = []
        self._first_camera: Intrinsics | None = None
        self._messages_read = 0

    def _require(self, topic: str, types: tuple[str, ...], what: str) -> str:
        try:
            return self.source.require(topic, types, what)
        except BagError:
            self.source.close()
            raise

    def close(self) -> None:
        """Close the bag."""
        self.source.close()

    def __enter__(self) -> BagPairReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _stream(self, limit_messages: int | None = None) -> Iterator[tuple[str, int, object]]:
        """(topic, log time, message) in bag order; read errors land in ``stats.error``."""
        wanted = {self.image_topic, self.gt_topic, self.camera_info_topic} - {None}
        count = 0
        try:
            for item in self.source.read(wanted, limit_messages):
                count += 1
                yield item
        finally:
            self._messages_read = max(self._messages_read, count)
            self.stats.error = self.source.error

    def plan(self) -> PairingStats:
        """First pass: stamps only; fixes which image goes with which GT message."""
        gt_stamps: list[int] = []
        for topic, _, message in self._stream():
            if topic == self.image_topic:
                self._image_stamps.append(header_stamp_ns(message))
            elif topic == self.gt_topic:
                gt_stamps.append(header_stamp_ns(message))
            else:
                self.stats.camera_infos += 1
                if self._first_camera is None:
                    try:
                        self._first_camera = camera_from_info(message)
                    except (ImageFormatError, AttributeError) as exc:
                        self.stats.decode_errors.append(f"camera_info: {exc}")
        self._planned_messages = self._messages_read
        self._matches = match_stamps(self._image_stamps, gt_stamps, self.tolerance_ns)
        self._gt_stamps = gt_stamps
        self.stats.images = len(self._image_stamps)
        self.stats.gt_messages = len(gt_stamps)
        self.stats.matched = sum(m is not None for m in self._matches)
        self.stats.unmatched_image_stamps = [s for s, m in zip(self._image_stamps, self._matches)
                                             if m is None]
        return self.stats

    def matched_count(self, limit: int | None = None) -> int:
        """How many pairs :meth:`pairs` will yield at most."""
        return min(self.stats.matched, limit) if limit is not None else self.stats.matched

    def pairs(self, limit: int | None = None) -> Iterator[BagPair]:
        """Second pass: decoded pairs, in bag order of completion, at most ``limit``."""
        if not hasattr(self, "_planned_messages"):
            self.plan()
        wanted_images = [i for i, m in enumerate(self._matches) if m is not None]
        if limit is not None:
            wanted_images = wanted_images[:limit]
        wanted = set(wanted_images)
        gt_users: dict[int, int] = {}
        for i in wanted_images:
            gt_users[self._matches[i]] = gt_users.get(self._matches[i], 0) + 1
        pending_images: dict[int, tuple] = {}
        pending_gt: dict[int, np.ndarray | None] = {}
        camera = self._first_camera
        image_index = gt_index = 0
        remaining = len(wanted_images)
        if remaining == 0:
            return
        for topic, log_time, message in self._stream(self._planned_messages):
            if topic == self.camera_info_topic:
                try:
                    camera = camera_from_info(message)
                except (ImageFormatError, AttributeError):
                    pass  # counted in the first pass
                continue
            if topic == self.image_topic:
                index, image_index = image_index, image_index + 1
                if index not in wanted:
                    continue
                try:
                    rgb = image_to_rgb(message)
                except ImageFormatError as exc:
                    self.stats.decode_errors.append(f"image {index}: {exc}")
                    rgb = None
                pending_images[index] = (rgb, log_time, str(message.header.frame_id), camera)
            else:
                index, gt_index = gt_index, gt_index + 1
                if index not in gt_users:
                    continue
                try:
                    pending_gt[index] = image_to_depth(message)
                except ImageFormatError as exc:
                    self.stats.decode_errors.append(f"ground truth {index}: {exc}")
                    pending_gt[index] = None
            for image in [i for i in pending_images if self._matches[i] in pending_gt]:
                rgb, log_time_ns, frame_id, cam = pending_images.pop(image)
                gt_id = self._matches[image]
                gt = pending_gt[gt_id]
                gt_users[gt_id] -= 1
                if gt_users[gt_id] == 0:
                    del pending_gt[gt_id]
                remaining -= 1
                if rgb is None or gt is None:
                    continue
                stamp = self._image_stamps[image]
                yield BagPair(index=image, stamp_ns=stamp, log_time_ns=log_time_ns,
                              frame_id=frame_id, rgb=rgb, gt=gt, camera=cam,
                              gt_offset_ns=self._gt_stamps[gt_id] - stamp)
            if remaining == 0:
                return


def _time(typestore, stamp_ns: int):
    return typestore.types["builtin_interfaces/msg/Time"](
        sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)


def _header(typestore, stamp_ns: int, frame_id: str):
    return typestore.types["std_msgs/msg/Header"](stamp=_time(typestore, stamp_ns),
                                                  frame_id=frame_id)


def rgb_image_msg(typestore, array: np.ndarray, encoding: str, stamp_ns: int, frame_id: str):
    """A rosbags Image message from an H x W (x C) array (little-endian, tightly packed)."""
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    step = array.strides[0]
    return typestore.types["sensor_msgs/msg/Image"](
        header=_header(typestore, stamp_ns, frame_id), height=height, width=width,
        encoding=encoding, is_bigendian=0, step=step,
        data=np.frombuffer(array.tobytes(), np.uint8))


# ---- writing ----
class _McapWriterWithHash(McapWriter):
    """rosbags' MCAP storage, with ``topic_type_hash`` in the channel metadata as rosbag2 writes.

    rosbag2 (Iron and later) reads the type hash of a topic from there; rosbags only writes
    ``offered_qos_profiles``.
    """

    def add_connection(self, connection, offered_qos_profiles: str) -> None:
        metadata = BytesIO()
        for key, value in (("offered_qos_profiles", offered_qos_profiles),
                           ("topic_type_hash", connection.digest)):
            write_string(metadata, key)
            write_string(metadata, value)
        channel = Channel(connection.id, connection.msgtype, connection.topic,
                          connection.ext.serialization_format, metadata.getvalue())
        self.channels.append(channel)
        self.channel_stats[connection.id] = 0
        write_channel(self.chunk.bio, channel, self.schemas)


class _Writer(Writer):
    STORAGE_PLUGINS = {**Writer.STORAGE_PLUGINS, StoragePlugin.MCAP: _McapWriterWithHash}


class BagWriter:
    """A rosbag2 bag of CDR messages on fixed topics; errors are one-line :class:`BagError`."""

    def __init__(self, path: str | Path, storage: str, topics: dict[str, str]) -> None:
        if storage not in STORAGES:
            raise BagError(f"unknown storage {storage!r}; choose from {sorted(STORAGES)}")
        self.path = Path(path)
        self.typestore = get_typestore(Stores.ROS2_HUMBLE)
        self.counts = dict.fromkeys(topics, 0)
        try:
            self._writer = _Writer(self.path, version=BAG_VERSION,
                                   storage_plugin=STORAGES[storage])
            self._writer.open()
            self._connections = {
                topic: self._writer.add_connection(topic, msgtype, typestore=self.typestore)
                for topic, msgtype in topics.items()}
        except (WriterError, OSError, sqlite3.Error, KeyError) as exc:
            raise BagError(f"cannot write bag {self.path}: {first_line(exc)}") from exc

    def write(self, topic: str, log_time_ns: int, cdr: bytes) -> None:
        """One serialised message on ``topic``."""
        self._writer.write(self._connections[topic], log_time_ns, cdr)
        self.counts[topic] += 1

    def write_message(self, topic: str, log_time_ns: int, message) -> None:
        """One rosbags message (serialised with the Humble definitions)."""
        self.write(topic, log_time_ns, self.typestore.serialize_cdr(message,
                                                                    message.__msgtype__))

    def close(self) -> dict[str, int]:
        """Finish the bag (writes metadata.yaml); messages written per topic."""
        self._writer.close()
        return dict(self.counts)


class BackgroundBagWriter:
    """A :class:`BagWriter` on its own thread: ``put`` never waits for the disk.

    ``serialize`` turns a queued message into CDR bytes (``rclpy.serialization.serialize_message``
    for rclpy messages) on the writer thread; the bag is opened, written and closed on that
    thread, as sqlite3 objects must stay on theirs.
    """

    def __init__(self, path: str | Path, storage: str, topics: dict[str, str],
                 serialize: Callable[[object], bytes]) -> None:
        self.path = Path(path)
        self._serialize = serialize
        self._queue: queue.Queue = queue.Queue(maxsize=32)
        self._error: BaseException | None = None
        self._counts: dict[str, int] = {}
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(storage, topics),
                                        name="s2r_bag_writer", daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._error is not None:
            self._thread.join()
            raise BagError(first_line(self._error))

    def put(self, topic: str, log_time_ns: int, message) -> None:
        """Queue one message for ``topic``."""
        self._queue.put((topic, log_time_ns, message))

    def _run(self, storage: str, topics: dict[str, str]) -> None:
        try:
            writer = BagWriter(self.path, storage, topics)
        except BagError as exc:
            self._error = exc
            return
        finally:
            self._opened.set()
        while (item := self._queue.get()) is not None:
            if self._error is None:
                topic, log_time_ns, message = item
                try:
                    writer.write(topic, log_time_ns, self._serialize(message))
                except Exception as exc:  # reported by close()
                    self._error = exc
        try:
            self._counts = writer.close()
        except Exception as exc:  # reported by close()
            self._error = self._error or exc

    def close(self) -> dict[str, int]:
        """Write everything queued, finish the bag; messages written per topic."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise BagError(f"writing {self.path} failed: {first_line(self._error)}")
        return self._counts


class DepthBagWriter:
    """Input images and depth results under the node's topic names (:func:`depth_topics`).

    Depth is 32FC1 metres, the colourised depth bgr8, camera_info for the depth image's
    resolution, and an organised PointCloud2.
    """

    def __init__(self, path: str | Path, image_topic: str, storage: str = "sqlite3",
                 namespace: str = DEPTH_NAMESPACE, cloud_stride: int = 2,
                 colour_range: tuple[float, float] = (1.0, 80.0)) -> None:
        if cloud_stride < 1:
            raise ValueError(f"cloud stride must be >= 1, got {cloud_stride}")
        self.image_topic = image_topic
        self.topics = depth_topics(namespace)
        if image_topic in self.topics.values():
            raise BagError(f"image topic {image_topic} collides with a depth output topic")
        self.cloud_stride = cloud_stride
        self.colour_range = colour_range
        self.writer = BagWriter(path, storage, {
            image_topic: "sensor_msgs/msg/Image",
            **{self.topics[name]: msgtype for name, msgtype in DEPTH_OUTPUTS.items()}})
        self.typestore = self.writer.typestore
        self.frames = 0

    def write_frame(self, rgb: np.ndarray, depth: np.ndarray, stamp_ns: int, frame_id: str,
                    camera: Intrinsics | None = None, log_time_ns: int | None = None) -> None:
        """One input frame and its prediction; depth at any size, camera for the RGB image."""
        log_time_ns = stamp_ns if log_time_ns is None else log_time_ns
        ts, write = self.typestore, self.writer.write_message
        depth = np.asarray(depth, np.float32)
        height, width = depth.shape
        write(self.image_topic, log_time_ns, rgb_image_msg(ts, rgb, "rgb8", stamp_ns, frame_id))
        write(self.topics["image"], log_time_ns,
              rgb_image_msg(ts, depth, "32FC1", stamp_ns, frame_id))
        colour = colorize_depth(depth, *self.colour_range)
        write(self.topics["colorized"], log_time_ns,
              rgb_image_msg(ts, colour, "bgr8", stamp_ns, frame_id))
        camera = camera or Intrinsics.guess(rgb.shape[1], rgb.shape[0])
        intrinsics = camera.scaled(width, height)
        write(self.topics["camera_info"], log_time_ns,
              self._camera_info(intrinsics, stamp_ns, frame_id))
        rgb_at_depth = rgb if rgb.shape[:2] == depth.shape else None
        cloud = depth_to_cloud_array(depth, intrinsics, self.cloud_stride, rgb_at_depth)
        write(self.topics["points"], log_time_ns, self._cloud(cloud, stamp_ns, frame_id))
        self.frames += 1

    def _camera_info(self, intr: Intrinsics, stamp_ns: int, frame_id: str):
        types = self.typestore.types
        k = np.array([intr.fx, 0, intr.cx, 0, intr.fy, intr.cy, 0, 0, 1], np.float64)
        p = np.array([intr.fx, 0, intr.cx, 0, 0, intr.fy, intr.cy, 0, 0, 0, 1, 0], np.float64)
        roi = types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0,
                                                          width=0, do_rectify=False)
        return types["sensor_msgs/msg/CameraInfo"](
            header=_header(self.typestore, stamp_ns, frame_id), height=intr.height,
            width=intr.width, distortion_model="plumb_bob", d=np.zeros(5, np.float64), k=k,
            r=np.eye(3).ravel(), p=p, binning_x=0, binning_y=0, roi=roi)

    def _cloud(self, cloud: np.ndarray, stamp_ns: int, frame_id: str):
        types = self.typestore.types
        field_type = types["sensor_msgs/msg/PointField"]
        rows, cols, floats = cloud.shape
        names = ["x", "y", "z"] + (["rgb"] if floats == 8 else [])
        fields = [field_type(name=n, offset=o, datatype=field_type.FLOAT32, count=1)
                  for n, o in zip(names, (0, 4, 8, 16))]
        return types["sensor_msgs/msg/PointCloud2"](
            header=_header(self.typestore, stamp_ns, frame_id), height=rows, width=cols,
            fields=fields, is_bigendian=False, point_step=floats * 4, row_step=floats * 4 * cols,
            data=np.frombuffer(np.ascontiguousarray(cloud).tobytes(), np.uint8), is_dense=False)

    def close(self) -> dict[str, int]:
        """Finish the bag (writes metadata.yaml); messages written per topic."""
        return self.writer.close()

    def __enter__(self) -> DepthBagWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
