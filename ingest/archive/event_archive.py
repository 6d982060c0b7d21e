"""The worker's event archive: every consumed record, kept in Avro files (fastavro) under a
local directory or ``s3://bucket/prefix``, so the full history outlives the broker's
retention and `tracklog replay` can rebuild the read models from it.

Records are buffered per partition and written as one file per buffer (see
format.py for names and schema) when the buffer reaches `max_records`
or `max_bytes`, is older than `max_age_seconds` (`tick`), or on `flush`/`close`.
A buffer holds consecutive offsets only: a record that does not follow the
buffer's last one (a gap, e.g. records Kafka's retention removed before they were
read) starts a new buffer, so a file holds every offset its name covers.
`drop` discards a partition's buffers (a revoked partition: its next owner reads
those records again, since no committed offset passes them).
A failed write raises and keeps the buffer: the next call writes it again (a
file that is written twice is replaced by the same content or overlaps an
older one; readers skip overlaps). Records at or below a partition's archived
or buffered high mark are ignored, so the worker may re-read from
`positions()[p] + 1` after a restart without archiving anything twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tracklog.contract.topics import Partition
from tracklog.ingest.archive.format import RECORD_OVERHEAD, encode, record_size
from tracklog.ingest.archive.reader import iter_archive, partition_files
from tracklog.ingest.archive.storage import ArchiveStorage, open_storage
from tracklog.ingest.records import Record

log = logging.getLogger(__name__)

NOTHING_ARCHIVED = -1
DEFAULT_MAX_RECORDS = 100_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_AGE_SECONDS = 60.0

__all__ = ["EventArchive", "iter_archive", "open_archive"]


@dataclass(slots=True)
class _Buffer:
    started: float  # time.monotonic() of the first buffered record
    records: list[Record] = field(default_factory=list)
    size: int = 0


@dataclass(slots=True)
class ArchiveStats:
    records: int = 0  # written to files
    files: int = 0
    bytes_in: int = 0  # payload bytes (keys and values) written
    bytes_out: int = 0  # file bytes written
    skipped: int = 0  # records at or below the high mark (re-reads)


class EventArchive:
    def __init__(
        self,
        storage: ArchiveStorage,
        *,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
    ) -> None:
        if max_records < 1 or max_bytes < 1 or max_age_seconds < 0:
            raise ValueError("archive thresholds must be positive")
        self.storage = storage
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.max_age_seconds = max_age_seconds
        self.stats = ArchiveStats()
        self._archived: dict[Partition, int] = {}
        self._buffers: dict[Partition, list[_Buffer]] = {}  # oldest first

    @property
    def root(self) -> str:
        return self.storage.root

    def positions(self, logs: Sequence[Partition]) -> dict[Partition, int]:
        """The last archived offset per (log, partition), -1 when none (buffers excluded)."""
        return {tp: self._archived_offset(tp) for tp in logs}

    def forget(self, logs: Sequence[Partition]) -> None:
        """Drop cached positions (e.g. of revoked partitions: another worker may archive
        them meanwhile); the next use lists the files again. Buffers are kept."""
        for tp in logs:
            self._archived.pop(tp, None)

    def drop(self, logs: Sequence[Partition]) -> int:
        """Discard the buffers of these partitions (not written); the records dropped."""
        dropped = 0
        for tp in logs:
            dropped += sum(len(chunk.records) for chunk in self._buffers.pop(tp, []))
        return dropped

    def buffered(self) -> int:
        return sum(len(c.records) for chunks in self._buffers.values() for c in chunks)

    def add(self, records: Sequence[Record]) -> None:
        """Buffer new records; write the buffers that reached max_records or max_bytes."""
        touched: set[Partition] = set()
        for record in records:
            p = record.position
            tp = (p.log, p.partition)
            if p.offset <= self._high_mark(tp):
                self.stats.skipped += 1
                continue
            chunks = self._buffers.setdefault(tp, [])
            if not chunks or self._full(chunks[-1]) or not _follows(chunks[-1], p.offset):
                chunks.append(_Buffer(time.monotonic()))
            chunks[-1].records.append(record)
            chunks[-1].size += record_size(record)
            touched.add(tp)
        for tp in sorted(touched | {tp for tp, c in self._buffers.items() if self._full(c[0])}):
            self._write(tp, full_only=True)

    def tick(self) -> None:
        """Write the buffers older than max_age_seconds."""
        now = time.monotonic()
        for tp in sorted(self._buffers):
            if now - self._buffers[tp][0].started >= self.max_age_seconds:
                self._write(tp)

    def flush(self, logs: Sequence[Partition] | None = None) -> None:
        """Write the buffered records of all partitions (or of these)."""
        for tp in sorted(self._buffers if logs is None else set(logs) & set(self._buffers)):
            self._write(tp)

    def close(self) -> None:
        self.flush()

    def _full(self, buffer: _Buffer) -> bool:
        return len(buffer.records) >= self.max_records or buffer.size >= self.max_bytes

    def _archived_offset(self, tp: Partition) -> int:
        if tp not in self._archived:
            files = partition_files(self.storage, *tp)
            self._archived[tp] = max((f.last for f in files), default=NOTHING_ARCHIVED)
        return self._archived[tp]

    def _high_mark(self, tp: Partition) -> int:
        chunks = self._buffers.get(tp)
        if chunks:
            return chunks[-1].records[-1].position.offset
        return self._archived_offset(tp)

    def _write(self, tp: Partition, *, full_only: bool = False) -> None:
        """Write a partition's buffers (or its full and closed ones: a buffer followed by
        another is closed), oldest first, one file each; on failure raise and keep the
        buffer that failed and those after it."""
        chunks = self._buffers.get(tp, [])
        while chunks and (not full_only or self._full(chunks[0]) or len(chunks) > 1):
            buffer = chunks[0]
            archived, data = encode(buffer.records)
            try:
                self.storage.put(archived.path, data)
            except Exception:
                log.exception("archiving %s to %s failed; kept in memory", archived.path, self.root)
                raise
            chunks.pop(0)
            self._archived[tp] = max(self._archived_offset(tp), archived.last)
            self.stats.records += len(buffer.records)
            self.stats.files += 1
            self.stats.bytes_in += sum(record_size(r) - RECORD_OVERHEAD for r in buffer.records)
            self.stats.bytes_out += len(data)
            log.debug("archived %d records to %s", len(buffer.records), archived.path)
        if not chunks:
            self._buffers.pop(tp, None)


def _follows(buffer: _Buffer, offset: int) -> bool:
    return offset == buffer.records[-1].position.offset + 1


def open_archive(
    root: str,
    *,
    max_records: int = DEFAULT_MAX_RECORDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
) -> EventArchive:
    """The archive under root: a local directory or ``s3://bucket/prefix``."""
    return EventArchive(
        open_storage(root),
        max_records=max_records,
        max_bytes=max_bytes,
        max_age_seconds=max_age_seconds,
    )
