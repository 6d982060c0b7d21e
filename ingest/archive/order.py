"""Which topic incarnation came first, for a rebuild that spans several.

A topic deleted and created again (the embedded stack's in-memory broker after a
restart) is a new log, `topic@<new id>`, numbered from offset 0 again; offsets
cannot order two logs. Their events can: a log's age is the earliest
`occurred_at` among the first records of its partitions' first files. A rebuild
applies older logs first, so later events (a tag changed, a run ended after the
restart) win as they did live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tracklog.contract.topics import Partition
from tracklog.ingest.archive.format import ArchiveFile, decode
from tracklog.ingest.archive.storage import ArchiveStorage
from tracklog.ingest.decode.envelope import InvalidEvent
from tracklog.ingest.decode.envelope import decode as decode_envelope

SAMPLED = 20  # records read from the start of each partition's first file
UNKNOWN = 2**63 - 1  # a log with no decodable event sorts last


def oldest_first(
    storage: ArchiveStorage, files: Mapping[Partition, Sequence[ArchiveFile]]
) -> list[Partition]:
    """The partitions of `files`, grouped by log, the oldest log first."""
    born: dict[str, int] = {}
    for (log, _), partition_files in files.items():
        if partition_files:
            first = min(partition_files)
            born[log] = min(born.get(log, UNKNOWN), _earliest_ns(storage, first))
    return sorted(files, key=lambda tp: (born.get(tp[0], UNKNOWN), tp[0], tp[1]))


def _earliest_ns(storage: ArchiveStorage, first: ArchiveFile) -> int:
    earliest = UNKNOWN
    for count, record in enumerate(decode(storage.get(first.path))):
        if count >= SAMPLED:
            break
        try:
            envelope = decode_envelope(record.value)
        except InvalidEvent:
            continue
        if envelope.HasField("occurred_at"):
            earliest = min(earliest, envelope.occurred_at.ToNanoseconds())
    return earliest
