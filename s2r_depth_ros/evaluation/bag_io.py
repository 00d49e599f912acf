"""Bags with ``rosbags`` (no ROS install needed): read image/GT pairs, write depth results.

Reading: ROS 2 bags (sqlite3 and MCAP) and ROS 1 ``.bag`` files through
``rosbags.highlevel.AnyReader``. Images and ground truth are paired by header stamp (nearest
GT within a tolerance) in two passes over the bag: the first reads stamps only and fixes the
pairing; the second decodes only paired messages, holding a message just until its partner
arrives. Message -> numpy decoding is shared with the ROS node
(:mod:`s2r_depth_ros.ros.conversions`: rgb8, bgr8, rgba8, bgra8, mono8, 32FC1 metres,
16UC1/mono16 millimetres; ``step`` and ``is_bigendian`` honoured).

Writing: a rosbag2 bag, metadata **version 8** (rosbags writes 8 or 9 only). Version 8 stores
``offered_qos_profiles`` as a YAML string like Humble's version 5 does, and Humble's metadata
reader takes the fields it knows and ignores the newer ones (``custom_data``, ``ros_distro``,
``type_description_hash``); version 9 changes the QoS layout. Storage defaults to sqlite3,
the plugin every distribution ships; MCAP needs ``ros-<distro>-rosbag2-storage-mcap`` on
Humble. Message definitions come from rosbags' Humble typestore.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.typesys import Stores, get_typestore

from ..geometry import Intrinsics, depth_to_cloud_array
from ..inference.colorize import colorize_depth
from ..ros.conversions import (
    ImageFormatError,
    image_to_depth,
    image_to_rgb,
    intrinsics_from_camera_info,
)

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/Image")
CAMERA_INFO_TYPES = ("sensor_msgs/msg/CameraInfo", "sensor_msgs/CameraInfo")
STORAGES = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}
# Metadata version written (see the module docstring for why 8).
BAG_VERSION = 8

__all__ = [
    "BAG_VERSION", "BagError", "BagPair", "BagPairReader", "DepthBagWriter", "ImageFormatError",
    "OutputTopics", "PairingStats", "camera_from_info", "camera_info_beside", "header_stamp_ns",
    "image_to_depth", "image_to_rgb", "match_stamps", "open_bag", "require_topic",
    "rgb_image_msg",
]


class BagError(ValueError):
    """A bag cannot be read or written: missing, corrupt, truncated, unknown topic."""


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
        raise BagError(f"cannot open bag {path}: {_first_line(exc)}") from exc
    return reader


class _AnySource:
    """Messages through rosbags' AnyReader (the normal path)."""

    damage: str | None = None

    def __init__(self, path: Path) -> None:
        self.reader = open_bag(path)
        self.topics = {name: info.msgtype for name, info in self.reader.topics.items()}

    def messages(self, topics: set[str]) -> Iterator[tuple[str, str, int, bytes]]:
        connections = [c for c in self.reader.connections if c.topic in topics]
        for connection, log_time, raw in self.reader.messages(connections):
            yield connection.topic, connection.msgtype, log_time, raw

    def deserialize(self, raw: bytes, msgtype: str):
        return self.reader.deserialize(raw, msgtype)

    def close(self) -> None:
        self.reader.close()


MCAP_MAGIC = b"\x89MCAP0\r\n"


class _McapSalvageSource:
    """Sequential scan of an MCAP file that lost its end (a recording that crashed).

    Follows the MCAP record layout (opcode u8, length u64, body) up to the first incomplete
    record; schema/channel/message records may sit at top level or inside uncompressed or
    zstd chunks. Messages come in file order; messages are CDR with standard definitions.
    """

    def __init__(self, file: Path, damage: str) -> None:
        self.file = file
        self.damage = damage
        self.typestore = get_typestore(Stores.ROS2_HUMBLE)
        self.channels: dict[int, tuple[str, str]] = {}
        self.topics: dict[str, str] = {}
        self.schemas: dict[int, str] = {}
        for _ in self._records(want_messages=False):
            pass

    def _records(self, want_messages: bool) -> Iterator[tuple[int, int, bytes]]:
        data = self.file.read_bytes()
        if not data.startswith(MCAP_MAGIC):
            raise BagError(f"{self.file} is not an MCAP file")
        self.schemas: dict[int, str] = {}
        yield from self._parse(memoryview(data), len(MCAP_MAGIC), want_messages)

    def _parse(self, data: memoryview, pos: int,
               want_messages: bool) -> Iterator[tuple[int, int, bytes]]:
        """(channel id, log time, CDR bytes) of every complete message record from ``pos``."""
        while pos + 9 <= len(data):
            opcode = data[pos]
            (length,) = struct.unpack_from("<Q", data, pos + 1)
            body_start, body_end = pos + 9, pos + 9 + length
            complete = body_end <= len(data)
            if not complete and opcode != 0x06:
                return  # the damaged tail
            body = data[body_start:min(body_end, len(data))]
            pos = body_end
            if opcode == 0x03:  # schema: id u16, name string, ...
                (schema_id, name_len) = struct.unpack_from("<HI", body, 0)
                self.schemas[schema_id] = bytes(body[6:6 + name_len]).decode()
            elif opcode == 0x04:  # channel: id u16, schema id u16, topic string, ...
                (channel_id, schema_id, topic_len) = struct.unpack_from("<HHI", body, 0)
                topic = bytes(body[8:8 + topic_len]).decode()
                msgtype = self.schemas.get(schema_id, "")
                self.channels[channel_id] = (topic, msgtype)
                self.topics[topic] = msgtype
            elif opcode == 0x05 and want_messages:  # channel u16, sequence u32, log time u64
                (channel_id, _sequence, log_time) = struct.unpack_from("<HIQ", body, 0)
                yield channel_id, log_time, bytes(body[22:])
            elif opcode == 0x06:  # chunk: 3 x u64, crc u32, compression string, records
                (comp_len,) = struct.unpack_from("<I", body, 28)
                compression = bytes(body[32:32 + comp_len]).decode()
                (records_len,) = struct.unpack_from("<Q", body, 32 + comp_len)
                records = body[40 + comp_len:40 + comp_len + records_len]
                if compression == "zstd" and complete:
                    from backports import zstd
                    records = memoryview(zstd.decompress(bytes(records)))
                elif compression:
                    return  # a compressed chunk cannot be read in part
                yield from self._parse(records, 0, want_messages)
                if not complete:
                    return

    def messages(self, topics: set[str]) -> Iterator[tuple[str, str, int, bytes]]:
        for channel_id, log_time, raw in self._records(want_messages=True):
            topic, msgtype = self.channels.get(channel_id, ("", ""))
            if topic in topics:
                yield topic, msgtype, log_time, raw

    def deserialize(self, raw: bytes, msgtype: str):
        return self.typestore.deserialize_cdr(raw, msgtype)

    def close(self) -> None:
        pass


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
            source = _McapSalvageSource(
                mcap_files[0], f"bag {path} is truncated or damaged "
                f"({_first_line(exc.__cause__ or exc)})")
        except (BagError, struct.error, UnicodeDecodeError, ValueError, OSError):
            raise exc from None
        if not source.topics:
            raise
        return source


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
        self.source = _open_source(self.path)
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
        self.salvaged = self.source.damage is not None
        self._matches: list[int | None] = []
        self._image_stamps: list[int] = []
        self._first_camera: Intrinsics | None = None
        self._messages_read = 0

    def _require(self, topic: str, types: tuple[str, ...], what: str) -> str:
        return require_topic(self.topics, topic, types, what, self.path)

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
            for topic, msgtype, log_time, raw in self.source.messages(wanted):
                if limit_messages is not None and count >= limit_messages:
                    return
                message = self.source.deserialize(raw, msgtype)
                count += 1
                yield topic, log_time, message
        except GeneratorExit:
            raise
        except Exception as exc:  # any failure inside a damaged file ends the read here
            self.stats.error = (f"bag {self.path} is corrupt or truncated after {count} "
                                f"messages: {_first_line(exc)}")
            return
        finally:
            self._messages_read = max(self._messages_read, count)
        if self.source.damage and limit_messages is None:
            self.stats.error = (f"{self.source.damage}; salvaged {count} messages from "
                                "before the damage")

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


@dataclass(frozen=True)
class OutputTopics:
    """Topic names of a written depth bag."""

    image: str = "/s2r_depth/image"
    depth: str = "/s2r_depth/depth"
    depth_color: str = "/s2r_depth/depth/color"
    points: str = "/s2r_depth/points"
    camera_info: str = "/s2r_depth/camera_info"


class DepthBagWriter:
    """Writes input images, predicted depth (32FC1), colourised depth (bgr8), PointCloud2."""

    def __init__(self, path: str | Path, storage: str = "sqlite3",
                 topics: OutputTopics | None = None, cloud_stride: int = 2,
                 colour_range: tuple[float, float] = (1.0, 80.0)) -> None:
        if storage not in STORAGES:
            raise ValueError(f"unknown storage {storage!r}; choose from {sorted(STORAGES)}")
        if cloud_stride < 1:
            raise ValueError(f"cloud stride must be >= 1, got {cloud_stride}")
        self.path = Path(path)
        self.topics = topics or OutputTopics()
        self.cloud_stride = cloud_stride
        self.colour_range = colour_range
        self.typestore = get_typestore(Stores.ROS2_HUMBLE)
        try:
            self.writer = Writer(self.path, version=BAG_VERSION, storage_plugin=STORAGES[storage])
            self.writer.open()
        except (WriterError, OSError, sqlite3.Error) as exc:
            raise BagError(f"cannot write bag {self.path}: {_first_line(exc)}") from exc
        add = self.writer.add_connection
        ts = self.typestore
        self.connections = {
            "image": add(self.topics.image, "sensor_msgs/msg/Image", typestore=ts),
            "depth": add(self.topics.depth, "sensor_msgs/msg/Image", typestore=ts),
            "depth_color": add(self.topics.depth_color, "sensor_msgs/msg/Image", typestore=ts),
            "points": add(self.topics.points, "sensor_msgs/msg/PointCloud2", typestore=ts),
            "camera_info": add(self.topics.camera_info, "sensor_msgs/msg/CameraInfo",
                               typestore=ts),
        }
        self.frames = 0

    def _write(self, key: str, message, log_time_ns: int) -> None:
        data = self.typestore.serialize_cdr(message, message.__msgtype__)
        self.writer.write(self.connections[key], log_time_ns, data)

    def write_frame(self, rgb: np.ndarray, depth: np.ndarray, stamp_ns: int, frame_id: str,
                    camera: Intrinsics | None = None, log_time_ns: int | None = None) -> None:
        """One input frame and its prediction; depth at any size, camera for the RGB image."""
        log_time_ns = stamp_ns if log_time_ns is None else log_time_ns
        ts = self.typestore
        depth = np.asarray(depth, np.float32)
        height, width = depth.shape
        self._write("image", rgb_image_msg(ts, rgb, "rgb8", stamp_ns, frame_id), log_time_ns)
        self._write("depth", rgb_image_msg(ts, depth, "32FC1", stamp_ns, frame_id), log_time_ns)
        colour = colorize_depth(depth, *self.colour_range)
        self._write("depth_color", rgb_image_msg(ts, colour, "bgr8", stamp_ns, frame_id),
                    log_time_ns)
        camera = camera or Intrinsics.guess(rgb.shape[1], rgb.shape[0])
        intrinsics = camera.scaled(width, height)
        self._write("camera_info", self._camera_info(intrinsics, stamp_ns, frame_id),
                    log_time_ns)
        rgb_at_depth = rgb if rgb.shape[:2] == depth.shape else None
        cloud = depth_to_cloud_array(depth, intrinsics, self.cloud_stride, rgb_at_depth)
        self._write("points", self._cloud(cloud, stamp_ns, frame_id), log_time_ns)
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

    def close(self) -> None:
        """Finish the bag (writes metadata.yaml)."""
        self.writer.close()

    def __enter__(self) -> DepthBagWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
