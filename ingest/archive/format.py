"""The event archive's file format: one Avro container file per run of consecutive records
of one partition, named after the offset range it holds. Pure (bytes in, bytes out).

Layout under the archive root::

    <log name>/<partition:05d>/<first offset:020d>-<last offset:020d>.avro

The log name is `topic@<topic id>` (see topics.log_name), so a topic created again
gets a directory of its own. Zero-padded offsets make names sort in offset order.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import fastavro

from tracklog.ingest.records import Position, Record

# zstandard: about 4x deflate's write speed at a similar ratio (tests/benchmarks/bench_archive.py)
CODEC = "zstandard"
SUFFIX = ".avro"
RECORD_OVERHEAD = 32  # bytes counted per buffered record besides its key and value
_NAME = re.compile(r"^(\d{20})-(\d{20})\.avro$")
_LOG = re.compile(r"^[A-Za-z0-9._\-]+(@[0-9a-f]+)?$")  # Kafka topic characters, then @id

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "ArchivedEvent",
    "namespace": "tracklog.archive.v1",
    "doc": "One consumed Kafka record, as the ingest worker saw it.",
    "fields": [
        {"name": "log", "type": "string", "doc": "topic@<topic id> (the topic's incarnation)"},
        {"name": "partition", "type": "int"},
        {"name": "offset", "type": "long"},
        {"name": "key", "type": ["null", "bytes"], "default": None},
        {"name": "value", "type": ["null", "bytes"], "default": None},
        {
            "name": "timestamp_ms",
            "type": ["null", "long"],
            "default": None,
            "doc": "the Kafka record timestamp, when the worker passed it on",
        },
    ],
}
_PARSED = fastavro.parse_schema(SCHEMA)


@dataclass(frozen=True, slots=True, order=True)
class ArchiveFile:
    """One archived file: the records of (log, partition) from first to last offset."""

    log: str
    partition: int
    first: int
    last: int

    @property
    def path(self) -> str:
        """The file's path relative to the archive root ('/'-separated)."""
        return (
            f"{partition_dir(self.log, self.partition)}/{self.first:020d}-{self.last:020d}{SUFFIX}"
        )


def check_log(log: str) -> str:
    """A log name safe as one path segment (no '/', '..', or other surprises)."""
    if not _LOG.match(log) or log in (".", ".."):
        raise ValueError(f"not a log name (topic@<topic id>): {log!r}")
    return log


def partition_dir(log: str, partition: int) -> str:
    return f"{check_log(log)}/{partition:05d}"


def parse_name(log: str, partition: int, name: str) -> ArchiveFile | None:
    """The file a name in a partition directory stands for; None for anything else
    (temporary files, stray objects)."""
    match = _NAME.match(name)
    if match is None:
        return None
    first, last = int(match[1]), int(match[2])
    return ArchiveFile(log, partition, first, last) if first <= last else None


def parse_partition_dir(name: str) -> int | None:
    return int(name) if len(name) == 5 and name.isdigit() else None


def encode(records: Sequence[Record]) -> tuple[ArchiveFile, bytes]:
    """An Avro container file holding records (one partition, ascending offsets)."""
    if not records:
        raise ValueError("nothing to encode")
    first, last = records[0].position, records[-1].position
    check_log(first.log)
    out = io.BytesIO()
    fastavro.writer(
        out,
        _PARSED,
        (_datum(record) for record in records),
        codec=CODEC,
        sync_interval=1 << 20,
        metadata={"tracklog.log": first.log, "tracklog.partition": str(first.partition)},
    )
    return ArchiveFile(first.log, first.partition, first.offset, last.offset), out.getvalue()


def _datum(record: Record) -> dict[str, Any]:
    p = record.position
    return {
        "log": p.log,
        "partition": p.partition,
        "offset": p.offset,
        "key": record.key,
        "value": record.value,
        "timestamp_ms": getattr(record, "timestamp_ms", None),
    }


def decode(data: bytes) -> Iterator[Record]:
    """The records of one archived file, in file order."""
    for datum in fastavro.reader(io.BytesIO(data)):
        d: dict[str, Any] = datum  # type: ignore[assignment]
        yield Record(Position(d["log"], d["partition"], d["offset"]), d["key"], d["value"])


def record_size(record: Record) -> int:
    """Bytes a record adds to a buffer (payload plus a fixed overhead)."""
    return len(record.value or b"") + len(record.key or b"") + RECORD_OVERHEAD
