"""Topic incarnations in a rebuild are applied oldest first (by their events' times)."""

from __future__ import annotations

from pathlib import Path

from tests.ingest.events import tags_set
from tracklog.ingest.archive.format import encode
from tracklog.ingest.archive.order import oldest_first
from tracklog.ingest.archive.reader import ArchiveReader
from tracklog.ingest.archive.storage import LocalStorage
from tracklog.ingest.records import Position, Record


def archive_log(storage: LocalStorage, log: str, partition: int, occurred_ms: int) -> None:
    envelope = tags_set("run0", {"phase": log})
    envelope.occurred_at.FromMilliseconds(occurred_ms)
    records = [
        Record(Position(log, partition, 0), b"junk", b"\x00 not an envelope"),
        Record(Position(log, partition, 1), b"run0", envelope.SerializeToString()),
    ]
    archived, data = encode(records)
    storage.put(archived.path, data)


def test_the_older_incarnation_comes_first_whatever_its_name(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    archive_log(storage, "tracklog.events@aaaa", 0, occurred_ms=2_000_000)  # after the restart
    archive_log(storage, "tracklog.events@aaaa", 1, occurred_ms=2_000_001)
    archive_log(storage, "tracklog.events@ffff", 0, occurred_ms=1_000_000)  # before it
    files = ArchiveReader(storage).files()
    assert oldest_first(storage, files) == [
        ("tracklog.events@ffff", 0),
        ("tracklog.events@aaaa", 0),
        ("tracklog.events@aaaa", 1),
    ]
