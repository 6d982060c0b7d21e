"""Reading the archive back finds holes by the offsets it read, not by file names."""

from __future__ import annotations

from pathlib import Path

from tracklog.ingest.archive.format import ArchiveFile, encode
from tracklog.ingest.archive.reader import ArchiveReader, Gap
from tracklog.ingest.archive.storage import LocalStorage
from tracklog.ingest.records import Position, Record

LOG = "tracklog.events@00ff"


def records(first: int, last: int) -> list[Record]:
    return [Record(Position(LOG, 0, o), b"k", str(o).encode()) for o in range(first, last + 1)]


def store(storage: LocalStorage, batch: list[Record]) -> ArchiveFile:
    archived, data = encode(batch)
    storage.put(archived.path, data)
    return archived


def test_a_file_whose_name_covers_a_gap_hides_neither_records_nor_the_hole(
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path)
    # Written before buffers split at offset jumps: named 0-39, holds 0..9 and 30..39.
    spanning = store(storage, records(0, 9) + records(30, 39))
    assert spanning == ArchiveFile(LOG, 0, 0, 39)
    reader = ArchiveReader(storage)
    assert list(reader.records()) == records(0, 9) + records(30, 39)
    assert reader.gaps == [Gap(LOG, 0, 10, 29)]

    # Another worker archived 0..29 in two files; the old reader skipped 20-29 (its name
    # lay inside 0-39's) and reported nothing missing.
    store(storage, records(0, 19))
    store(storage, records(20, 29))
    reader = ArchiveReader(storage)
    assert list(reader.records()) == records(0, 39)
    assert reader.gaps == []


def test_a_file_shorter_than_its_name_is_a_hole_at_the_end(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    store(storage, records(0, 4))
    archived, data = encode(records(5, 9))
    storage.put(ArchiveFile(LOG, 0, 5, 12).path, data)  # claims 10..12 it does not hold
    reader = ArchiveReader(storage)
    assert list(reader.records()) == records(0, 9)
    assert reader.gaps == [Gap(LOG, 0, 10, 12)]
    assert archived.last == 9


def test_overlapping_files_are_read_once_per_offset(
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path)
    for first, last in [(0, 19), (5, 9), (10, 29), (25, 34)]:
        store(storage, records(first, last))
    reader = ArchiveReader(storage)
    assert list(reader.records()) == records(0, 34)
    assert reader.gaps == []
    assert reader.files_read == 4
