"""Reading the event archive back: which files hold what, and the records in offset order.

Files of one partition may overlap (a worker that crashed after writing a file
re-reads and archives those records again) and may leave gaps (records Kafka
dropped before they were archived, or offsets Kafka never hands to consumers:
compacted records, transaction markers). Overlapping records are yielded once;
each gap is logged as a warning naming the missing range, and kept in `gaps`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tracklog.contract.topics import Partition
from tracklog.ingest.archive.format import (
    ArchiveFile,
    decode,
    parse_name,
    parse_partition_dir,
    partition_dir,
)
from tracklog.ingest.archive.storage import ArchiveStorage, open_storage
from tracklog.ingest.records import Record

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Gap:
    """Offsets first..last (inclusive) of a partition that no archived file holds."""

    log: str
    partition: int
    first: int
    last: int


def partition_files(storage: ArchiveStorage, log: str, partition: int) -> list[ArchiveFile]:
    """The partition's archived files, in offset order."""
    names = storage.list_dir(partition_dir(log, partition))
    files = (parse_name(log, partition, name) for name in names)
    return sorted(f for f in files if f is not None)


def archived_partitions(storage: ArchiveStorage) -> list[Partition]:
    """Every (log, partition) the archive holds a directory for."""
    found: list[Partition] = []
    for log_dir in storage.list_dir(""):
        if log_dir.startswith("."):
            continue
        for name in storage.list_dir(log_dir):
            partition = parse_partition_dir(name)
            if partition is not None:
                found.append((log_dir, partition))
    return sorted(found)


def covered(files: Sequence[ArchiveFile]) -> int:
    """How many offsets the files cover together (overlaps counted once)."""
    total, upto = 0, -1
    for f in sorted(files):
        if f.last > upto:
            total += f.last - max(f.first, upto + 1) + 1
            upto = f.last
    return total


@dataclass
class ArchiveReader:
    """Reads one archive root; `records()` yields, `gaps` collects what is missing."""

    storage: ArchiveStorage
    gaps: list[Gap] = field(default_factory=list)
    files_read: int = 0

    def files(self, logs: Sequence[Partition] | None = None) -> dict[Partition, list[ArchiveFile]]:
        wanted = archived_partitions(self.storage) if logs is None else sorted(set(logs))
        return {(lg, p): partition_files(self.storage, lg, p) for lg, p in wanted}

    def records(self, logs: Sequence[Partition] | None = None) -> Iterator[Record]:
        """Every archived record, partition after partition, each in offset order, once."""
        for files in self.files(logs).values():
            yield from self.partition_records(files)

    def partition_records(self, files: Sequence[ArchiveFile]) -> Iterator[Record]:
        upto = -1  # the last offset yielded
        for f in sorted(files):
            if f.last <= upto:
                continue  # wholly inside what was yielded already
            if f.first > upto + 1:
                self._gap(f.log, f.partition, upto + 1, f.first - 1)
            self.files_read += 1
            for record in decode(self.storage.get(f.path)):
                offset = record.position.offset
                if offset <= upto:
                    continue
                upto = offset
                yield record
            if upto < f.last:  # shorter than its name says; a later file may hold the rest
                log.warning("archive file %s ends at offset %d", f.path, upto)

    def _gap(self, log_name: str, partition: int, first: int, last: int) -> None:
        gap = Gap(log_name, partition, first, last)
        self.gaps.append(gap)
        log.warning(
            "archive gap: %s partition %d has no records for offsets %d..%d (%d offsets)",
            log_name,
            partition,
            first,
            last,
            last - first + 1,
        )


def iter_archive(root: str, logs: Sequence[Partition] | None = None) -> Iterator[Record]:
    """Every record archived under root (or of these partitions), per partition in offset order."""
    return ArchiveReader(open_storage(root)).records(logs)
