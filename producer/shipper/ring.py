"""The handover ring: a memory-mapped file in the spool directory between one Session (the
only writer) and the shipper process (the only reader).

A ring is five files in ``<spool dir>/rings/``, named by the ring's id (32 hex digits):

- ``<id>.ring``: a 64 KiB header of little-endian u64 fields (`Field`) and a data area of
  ``capacity`` bytes, written through (zeros) and mapped page by page when the ring is
  made, so that no logging call takes a page fault that allocates it. Positions are
  logical byte counts that only grow; a position's place in the data area is ``position %
  capacity``. The writer appends records at ``head`` and publishes the new head after the
  record is written: a record below the head is handed over (it is in the page cache of a
  file, so it survives the writer's death). The shipper advances ``tail`` once what lies
  below it is in the disk spool, and ``acked`` once Kafka acknowledged it.
- ``<id>.names``: the strings the records refer to by number (run and aggregate ids,
  metric keys), appended by the writer before the first record that uses one:
  ``[u32 number][u32 length][UTF-8 bytes]``.
- ``<id>.json``: what the ring is for (brokers and topic, the writer's pid, how to cut
  metric points into events), written before the ring file appears.
- ``<id>.state``: the shipper's own record of what it spooled (`tracklog.shipper.slices`).
- ``<id>.notices``: the shipper process's warnings and errors while it reads the ring, one
  JSON line each, which the writer's process logs again (`tracklog.shipper.notices`).

Records are 8-byte aligned and start with ``[u32 length][u16 kind]``. A record never
wraps: one that does not fit before the end of the data area follows a `SKIP` marker
at the start of the area.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import mmap
import os
import struct
import threading
from pathlib import Path

from tracklog.v1 import events_pb2 as pb

RINGS_DIR = "rings"
MAGIC = 0x32474E49524C4B54  # "TKLRING2"
HEADER_BYTES = 64 * 1024
PAGE_BYTES = mmap.PAGESIZE
MADV_POPULATE_WRITE = 23  # Linux 5.14: write-fault every page of a range in one call
U64 = struct.Struct("<Q")

# records
SKIP, POINTS, EVENT = 0, 1, 2
RECORD_HEAD = struct.Struct("<IH")  # [u32 length][u16 kind]: how every record starts
# an EVENT record names its payload by the Envelope field that will hold it
PAYLOAD_FIELD_NUMBERS = {
    field.name: field.number
    for field in pb.Envelope.DESCRIPTOR.oneofs_by_name["payload"].fields
    if field.message_type is not None
}
# [u32 length][u16 kind][u16 flags][u32 run][u32 n][i64 occurred_ns], then the columns:
# n u32 key numbers (padded to 8 bytes), n i64 steps, n i64 timestamps, n f64 values
POINTS_HEAD = struct.Struct("<IHHIIq")
ONE_POINT = struct.Struct("<IHHIIqIxxxxqqd")  # a POINTS record of one point
# [u32 length][u16 kind][u16 payload field number][u32 aggregate][u32 sealed run]
# [u32 payload length][u32 pad][i64 occurred_ns], then the serialized payload
EVENT_HEAD = struct.Struct("<IHHIIIxxxxq")
NAME_HEAD = struct.Struct("<II")
SUFFIXES = ("ring", "names", "json", "state", "notices")


class Field(enum.IntEnum):
    """Offsets of the header's u64 fields."""

    MAGIC = 0
    CAPACITY = 8
    HEAD = 16  # writer: everything below is handed over
    TAIL = 24  # shipper: everything below is in the disk spool
    SLICE_END = 32  # shipper: the end of the slice being spooled (written before it)
    ACKED = 40  # shipper: everything below is acknowledged by Kafka
    CLOSED = 48  # writer: 1 once the session closed (nothing more is written)
    FLUSH = 56  # writer: a flush waits for this position (ship it without lingering)
    FAILED = 64  # shipper: events lost after their handover (dropped, refused for good)
    ACKED_EVENTS = 72  # shipper: non-metric events acknowledged so far
    ACKED_POINTS = 80  # shipper: metric points acknowledged so far
    DROPPED_EVENTS = 88  # shipper: events dropped because the spool was full
    DROPPED_POINTS = 96
    QUARANTINED_EVENTS = 104  # shipper: events Kafka refused for good (or too old to send)
    QUARANTINED_POINTS = 112
    POSITIONS_VERSION = 120  # odd while the shipper rewrites the positions below
    POSITIONS_LENGTH = 128
    POSITIONS = 136  # JSON [[log, partition, offset], ...]: what Kafka acknowledged
    # (up to the end of the header: about 2,000 partitions)


def points_size(n: int) -> int:
    """Bytes of a POINTS record of ``n`` points."""
    return POINTS_HEAD.size + 4 * n + (-4 * n) % 8 + 24 * n


def event_size(payload_bytes: int) -> int:
    return EVENT_HEAD.size + payload_bytes + (-payload_bytes) % 8


def rings_dir(spool_dir: Path) -> Path:
    return spool_dir / RINGS_DIR


class RingFile:
    """A ring file mapped in memory, with its header's fields."""

    def __init__(self, path: Path, *, create_capacity: int = 0) -> None:
        self.path = path
        flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create_capacity else 0)
        self.fd = os.open(path, flags, 0o644)
        try:
            if create_capacity:
                _write_zeros(self.fd, HEADER_BYTES + create_capacity)
            size = os.fstat(self.fd).st_size
            self.map = mmap.mmap(self.fd, size)
        except BaseException:
            os.close(self.fd)
            raise
        if create_capacity:
            _fault_in(self.map)
        if create_capacity:
            self.set(Field.CAPACITY, create_capacity)
            self.set(Field.MAGIC, MAGIC)
        elif self.get(Field.MAGIC) != MAGIC or size != HEADER_BYTES + self.get(Field.CAPACITY):
            self.close()
            raise ValueError(f"{path} is not a Tracklog handover ring")
        self.capacity = self.get(Field.CAPACITY)
        self._address = ctypes.addressof(ctypes.c_char.from_buffer(self.map))
        self._unmapping = threading.Lock()  # `prepare` never runs on an unmapped range
        self._unmapped = False

    def get(self, field: Field) -> int:
        value: int = U64.unpack_from(self.map, field)[0]
        return value

    def set(self, field: Field, value: int) -> None:
        U64.pack_into(self.map, field, value)

    def offset(self, position: int) -> int:
        """Where ``position`` is in the file."""
        return HEADER_BYTES + position % self.capacity

    def room_before_end(self, position: int) -> int:
        return self.capacity - position % self.capacity

    def prepare(self, position: int, length: int) -> None:
        """Make the pages of ``length`` bytes from ``position`` writable now, on this
        thread and without the GIL: once Linux wrote a page back to disk it is
        write-protected again, and the next write to it faults (on ext4 the fault may
        wait on the journal), so the writer's thread prepares the pages ahead of it."""
        start = self.offset(position) // PAGE_BYTES * PAGE_BYTES
        first = min(length, HEADER_BYTES + self.capacity - start)
        with self._unmapping:
            if self._unmapped:
                return
            _madvise(self._address + start, first, MADV_POPULATE_WRITE)
            if first < length:  # wraps to the start of the data area
                _madvise(self._address + HEADER_BYTES, length - first, MADV_POPULATE_WRITE)

    def close(self) -> None:
        with self._unmapping:
            self._unmapped = True
            with contextlib.suppress(BufferError):  # a view still exported: goes with the process
                self.map.close()
        os.close(self.fd)


def _write_zeros(fd: int, size: int) -> None:
    """Give the file ``size`` bytes of zeros, written (not a hole, not fallocated): the
    file system allocates them now, not in a page fault of a logging call."""
    chunk = bytes(1 << 20)
    at = 0
    while at < size:
        at += os.pwrite(fd, chunk[: min(len(chunk), size - at)], at)


def _fault_in(map_: mmap.mmap) -> None:
    """Map every page writable now (one call where Linux can, else a write per page)."""
    try:
        map_.madvise(MADV_POPULATE_WRITE)
    except (OSError, ValueError, AttributeError):
        for at in range(0, len(map_), PAGE_BYTES):
            map_[at] = 0


_libc = ctypes.CDLL(None, use_errno=True)
_libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)


def _madvise(address: int, length: int, advice: int) -> None:
    """madvise(2) through ctypes, which lets go of the GIL (mmap.madvise keeps it)."""
    _libc.madvise(address, length, advice)  # an old kernel says EINVAL: nothing prepared


def ring_files(directory: Path, ring_id: str) -> list[Path]:
    """The files of one ring (the ring file first)."""
    return [directory / f"{ring_id}.{suffix}" for suffix in SUFFIXES]


def read_names(path: Path, offset: int, names: dict[int, str]) -> int:
    """Add the names appended to ``path`` after ``offset``; return the offset read to."""
    try:
        with path.open("rb") as source:
            source.seek(offset)
            data = source.read()
    except FileNotFoundError:
        return offset
    at = 0
    while at + NAME_HEAD.size <= len(data):
        number, length = NAME_HEAD.unpack_from(data, at)
        if at + NAME_HEAD.size + length > len(data):
            break  # still being appended
        names[number] = data[at + NAME_HEAD.size : at + NAME_HEAD.size + length].decode()
        at += NAME_HEAD.size + length
    return offset + at
