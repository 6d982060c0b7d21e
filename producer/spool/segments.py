"""The disk spool's write-ahead log: one directory of numbered segment files.

A record is ``[u32 length][u32 crc32][u32 points][u16 key length][key][value]``
(little endian); ``length`` counts the bytes after the CRC and the CRC covers
them; ``points`` is the number of metric points the event carries (0 for other
events), so the pending count can be told without decoding. Segments are
``<seq>.seg`` and roll at ``segment_bytes``; a segment is deleted once every
record in it is acknowledged. ``acked`` (a sidecar written atomically at close
and every second while shipping) names the acknowledged prefix of the first
remaining segment, so the next process skips it. Records are written with one
``writev`` each and never fsynced: the page cache survives a broker outage and
the death of the process; only a machine crash may lose the last seconds of the
spool. A record torn by a crash (or
corrupt) ends its segment: it is skipped with a warning, never a crash.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SEGMENT_BYTES = 16 * 1024 * 1024
HEADER = struct.Struct("<IIIH")  # length, crc32, points, key length
BODY_HEADER = struct.Struct("<IH")  # points, key length (inside the CRC)
ACKED_FILE = "acked"
SUFFIX = ".seg"

Position = tuple[int, int]  # (segment number, byte offset)


@dataclass(frozen=True, slots=True)
class SpooledRecord:
    start: Position
    end: Position
    key: bytes
    value: bytes
    points: int

    @property
    def size(self) -> int:
        return HEADER.size + len(self.key) + len(self.value)


def record_size(key: bytes, value: bytes) -> int:
    return HEADER.size + len(key) + len(value)


class SegmentLog:
    """The segments of one spool directory: appended by one writer, read by one reader.

    ``writable=False`` opens what a previous process left (read to the end, then
    done); ``writable=True`` starts a new segment after any existing one.
    """

    def __init__(
        self, directory: Path, *, writable: bool, segment_bytes: int = SEGMENT_BYTES
    ) -> None:
        self.directory = directory
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()  # the shipper thread and close both save
        self._ends: dict[int, int] = {}  # segment -> readable end (file size, or written)
        self._broken: dict[int, int] = {}  # segment -> offset of a torn or corrupt record
        for path in directory.glob(f"*{SUFFIX}"):
            if path.stem.isdigit():
                self._ends[int(path.stem)] = path.stat().st_size
        self.acked = self._read_acked()
        # what the sidecar holds: a log that never advanced writes nothing (a reader of a live
        # process's directory must not put back the prefix it read over a newer one)
        self._saved: Position | None = self.acked
        self._active: int | None = None
        self._fd = -1
        if writable:
            self._start_segment(max(self._ends, default=-1) + 1)
        self._read_fd: tuple[int, int] | None = None  # (segment, fd) of the reader

    def _read_acked(self) -> Position:
        first = min(self._ends, default=0)
        try:
            seq, offset = (int(x) for x in (self.directory / ACKED_FILE).read_text().split())
        except (OSError, ValueError):
            return (first, 0)
        return (seq, offset) if seq in self._ends else (first, 0)

    def _start_segment(self, seq: int) -> None:
        path = self.directory / f"{seq:012d}{SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._active = seq
        self._ends[seq] = 0

    # writing (one thread)

    def append(self, key: bytes, value: bytes, points: int) -> Position:
        """Write one record; returns the position after it."""
        body_header = BODY_HEADER.pack(points, len(key))
        crc = zlib.crc32(value, zlib.crc32(key, zlib.crc32(body_header)))
        length = BODY_HEADER.size + len(key) + len(value)
        header = HEADER.pack(length, crc, points, len(key))
        if self._active is None:
            raise RuntimeError("this spool log is read-only or closed")
        size = len(header) + len(key) + len(value)
        used = self._ends[self._active]
        if (used > 0 and used + size > self._segment_bytes) or self._active in self._broken:
            os.close(self._fd)
            with self._lock:
                self._start_segment(self._active + 1)
        written = os.writev(self._fd, [header, key, value])
        if written != size:  # a full disk: keep the log parseable, then fail the call
            os.ftruncate(self._fd, self._ends[self._active])
            raise OSError(f"short write to the spool ({written} of {size} bytes)")
        with self._lock:
            end = self._ends[self._active] + size
            self._ends[self._active] = end
            return (self._active, end)

    def end(self) -> Position:
        """The position after the last complete record."""
        with self._lock:
            if not self._ends:
                return self.acked
            last = max(self._ends)
            return (last, self._ends[last])

    # reading (one thread)

    def read(self, pos: Position) -> SpooledRecord | None:
        """The record at ``pos``, moving past the end of finished segments; None when
        there is no complete record (yet) to read."""
        seq, offset = pos
        while True:
            with self._lock:
                end = self._ends.get(seq)
                if end is not None:
                    end = min(end, self._broken.get(seq, end))
                later = [s for s in self._ends if s > seq]
            if end is not None and offset < end:
                record = self._read_at(seq, offset, end)
                if record is not None:
                    return record
                with self._lock:  # torn or corrupt: the rest of the segment is skipped
                    self._broken[seq] = offset
            if (seq == self._active and seq not in self._broken) or not later:
                return None
            seq, offset = min(later), 0

    def _read_at(self, seq: int, offset: int, end: int) -> SpooledRecord | None:
        fd = self._reader_fd(seq)
        header = os.pread(fd, HEADER.size, offset)
        problem = ""
        if len(header) < HEADER.size or offset + HEADER.size > end:
            problem = "a torn record header"
        else:
            length, crc, points, key_length = HEADER.unpack(header)
            stop = offset + 8 + length
            if length < BODY_HEADER.size + key_length or stop > end:
                problem = "a torn record"
            else:
                data = os.pread(fd, length - BODY_HEADER.size, offset + HEADER.size)
                body_crc = zlib.crc32(data, zlib.crc32(header[8:]))
                if len(data) != length - BODY_HEADER.size or body_crc != crc:
                    problem = "a record with a bad checksum"
                else:
                    key, value = data[:key_length], data[key_length:]
                    return SpooledRecord((seq, offset), (seq, stop), key, value, points)
        log.warning(
            "tracklog spool: %s at %s%s offset %d (the last write of a process that died?); "
            "the rest of that segment (%d bytes) is skipped",
            problem,
            self.directory / f"{seq:012d}",
            SUFFIX,
            offset,
            end - offset,
        )
        return None

    def _reader_fd(self, seq: int) -> int:
        if self._read_fd is not None and self._read_fd[0] == seq:
            return self._read_fd[1]
        self._close_reader()
        fd = os.open(self.directory / f"{seq:012d}{SUFFIX}", os.O_RDONLY)
        self._read_fd = (seq, fd)
        return fd

    def _close_reader(self) -> None:
        if self._read_fd is not None:
            os.close(self._read_fd[1])
            self._read_fd = None

    def pending(self) -> tuple[int, int, int]:
        """(records, metric points, bytes) from the acknowledged prefix to the end."""
        records = points = size = 0
        pos = self.acked
        while (record := self.read(pos)) is not None:
            records, points, size = records + 1, points + record.points, size + record.size
            pos = record.end
        return records, points, size

    # acknowledging

    def release_through(self, pos: Position) -> None:
        """Everything before ``pos`` is acknowledged: delete the segments it covers."""
        with self._lock:
            self.acked = pos
            done = [
                s
                for s, end in self._ends.items()
                if s < pos[0]
                or (s == pos[0] and s != self._active and pos[1] >= self._broken.get(s, end))
            ]
            for seq in done:
                del self._ends[seq]
        for seq in done:  # an open reader keeps a deleted file readable
            (self.directory / f"{seq:012d}{SUFFIX}").unlink(missing_ok=True)

    def empty(self) -> bool:
        """True when everything written is acknowledged."""
        return self.read(self.acked) is None

    def close(self) -> None:
        """Stop writing and remember the acknowledged prefix for the next process."""
        if self._active is not None:
            os.close(self._fd)
            self._active = None
        self._close_reader()
        self.save_acked()

    def save_acked(self) -> None:
        """Write the acknowledged prefix to the sidecar (atomically: write, then rename)."""
        with self._save_lock:
            acked = self.acked
            if acked == self._saved:
                return
            tmp = self.directory / f"{ACKED_FILE}.{threading.get_ident()}.tmp"
            tmp.write_text("{} {}\n".format(*acked))
            tmp.replace(self.directory / ACKED_FILE)
            self._saved = acked

    def remove(self) -> None:
        """Delete every file of the log (its directory stays)."""
        self.close()
        for path in self.directory.iterdir():
            if path.suffix == SUFFIX or path.name.startswith(ACKED_FILE):
                path.unlink(missing_ok=True)
