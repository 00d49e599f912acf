"""Read what is left of an MCAP file that lost its end (a recording that crashed).

rosbags needs the summary section at the end of the file; a truncated recording has none.
This scanner follows the MCAP record layout (opcode u8, length u64, body) from the start up
to the first incomplete record; schema, channel and message records may sit at top level or
inside uncompressed or zstd chunks. Messages come in file order and are CDR with the standard
(Humble) definitions.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from rosbags.typesys import Stores, get_typestore

MCAP_MAGIC = b"\x89MCAP0\r\n"
OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK = 0x03, 0x04, 0x05, 0x06


class McapSalvageError(ValueError):
    """The file is not an MCAP file at all."""


class McapSalvageSource:
    """The readable messages of a damaged MCAP file; ``damage`` says what was wrong."""

    def __init__(self, file: Path, damage: str) -> None:
        self.file = file
        self.damage = damage
        self.typestore = get_typestore(Stores.ROS2_HUMBLE)
        self.channels: dict[int, tuple[str, str]] = {}
        self.topics: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self._schemas: dict[int, str] = {}
        for _ in self._records(want_messages=False):
            pass

    def _records(self, want_messages: bool) -> Iterator[tuple[int, int, bytes]]:
        data = self.file.read_bytes()
        if not data.startswith(MCAP_MAGIC):
            raise McapSalvageError(f"{self.file} is not an MCAP file")
        yield from self._parse(memoryview(data), len(MCAP_MAGIC), want_messages)

    def _parse(self, data: memoryview, pos: int,
               want_messages: bool) -> Iterator[tuple[int, int, bytes]]:
        """(channel id, log time, CDR bytes) of every complete message record from ``pos``.

        Without ``want_messages`` only schemas, channels and message counts are collected.
        """
        while pos + 9 <= len(data):
            opcode = data[pos]
            (length,) = struct.unpack_from("<Q", data, pos + 1)
            body_start, body_end = pos + 9, pos + 9 + length
            complete = body_end <= len(data)
            if not complete and opcode != OP_CHUNK:
                return  # the damaged tail
            body = data[body_start:min(body_end, len(data))]
            pos = body_end
            if opcode == OP_SCHEMA:  # id u16, name string, ...
                (schema_id, name_len) = struct.unpack_from("<HI", body, 0)
                self._schemas[schema_id] = bytes(body[6:6 + name_len]).decode()
            elif opcode == OP_CHANNEL and not want_messages:  # id u16, schema u16, topic, ...
                (channel_id, schema_id, topic_len) = struct.unpack_from("<HHI", body, 0)
                topic = bytes(body[8:8 + topic_len]).decode()
                msgtype = self._schemas.get(schema_id, "")
                self.channels[channel_id] = (topic, msgtype)
                self.topics[topic] = msgtype
                self.counts.setdefault(topic, 0)
            elif opcode == OP_MESSAGE:  # channel u16, sequence u32, log time u64, publish u64
                (channel_id, _sequence, log_time) = struct.unpack_from("<HIQ", body, 0)
                if want_messages:
                    yield channel_id, log_time, bytes(body[22:])
                elif channel_id in self.channels:
                    topic = self.channels[channel_id][0]
                    self.counts[topic] += 1
            elif opcode == OP_CHUNK:  # 3 x u64, crc u32, compression string, records
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
        """(topic, type, log time, CDR) of the messages on ``topics``, in file order."""
        for channel_id, log_time, raw in self._records(want_messages=True):
            topic, msgtype = self.channels.get(channel_id, ("", ""))
            if topic in topics:
                yield topic, msgtype, log_time, raw

    def deserialize(self, raw: bytes, msgtype: str):
        """A rosbags message from CDR bytes."""
        return self.typestore.deserialize_cdr(raw, msgtype)

    def close(self) -> None:
        """Nothing held open between reads."""
