"""Reading the event archive back: which files hold what, and the records in offset order.

Files of one partition may overlap (two workers archived the same records, e.g.
one that lost its partitions without knowing) and may leave gaps (records Kafka
dropped before they were archived). Holes are found from the offsets actually
read, not from file names: the files are merged by offset (a file is opened once
the merge reaches its first offset), every offset is yielded once, and any offset
between two records read, or between the last record read and the highest offset
a file name claims, is a gap, logged as a warning naming the missing range and
kept in `gaps`. A file whose name covers more than it holds (one written before
buffers were split at offset jumps) therefore neither hides the records of other
files nor a hole. Tracklog's topics are not compacted and its producers are not
transactional, so consecutive offsets are expected: any jump is reported.
"""

from __future__ import annotations

import heapq
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
        """The records of one partition's files, in offset order, each offset once."""
        ordered = sorted(files)
        merge: list[tuple[int, int, Record, Iterator[Record]]] = []  # a heap
        upto = -1  # the last offset yielded; every offset below is yielded or a gap
        claimed = -1  # the highest offset a file opened so far is named after
        opened = 0
        while opened < len(ordered) or merge:
            while opened < len(ordered) and (not merge or ordered[opened].first <= merge[0][0]):
                f = ordered[opened]
                opened += 1
                claimed = max(claimed, f.last)
                if f.last <= upto:
                    continue  # every offset it can hold was yielded or reported missing
                self.files_read += 1
                _push(merge, opened, iter(decode(self.storage.get(f.path))))
            if not merge:
                continue
            offset, order, record, rest = heapq.heappop(merge)
            _push(merge, order, rest)
            if offset <= upto:
                continue
            if offset > upto + 1:
                self._gap(record.position.log, record.position.partition, upto + 1, offset - 1)
            upto = offset
            yield record
        if ordered and claimed > upto:
            last = ordered[-1]
            self._gap(last.log, last.partition, upto + 1, claimed)

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


def _push(
    merge: list[tuple[int, int, Record, Iterator[Record]]], order: int, rest: Iterator[Record]
) -> None:
    """Put the next record of a file on the merge heap (`order` breaks ties)."""
    record = next(rest, None)
    if record is not None:
        heapq.heappush(merge, (record.position.offset, order, record, rest))


def iter_archive(root: str, logs: Sequence[Partition] | None = None) -> Iterator[Record]:
    """Every record archived under root (or of these partitions), per partition in offset order."""
    return ArchiveReader(open_storage(root)).records(logs)
