"""The worker's archive hooks: offsets safe to commit, where to resume, revocations."""

from __future__ import annotations

from pathlib import Path

from tracklog.ingest.archive.format import ArchiveFile
from tracklog.ingest.archive.reader import ArchiveReader, Gap, partition_files
from tracklog.ingest.archive.worker_side import WorkerArchive
from tracklog.ingest.records import Position, Record

LOG = "tracklog.events@0123"


def records(first: int, last: int) -> list[Record]:
    return [Record(Position(LOG, 0, o), b"k", b"v") for o in range(first, last + 1)]


def test_commits_never_pass_a_record_not_archived_yet(tmp_path: Path) -> None:
    archive = WorkerArchive(str(tmp_path))
    archive.add(records(0, 9))  # buffered: no file yet
    assert archive.committable({(LOG, 0): 10, (LOG, 1): 7}) == {(LOG, 0): 0, (LOG, 1): 0}
    archive.archive.flush()
    archive.add(records(10, 14))
    assert archive.committable({(LOG, 0): 15}) == {(LOG, 0): 10}
    archive.close()
    assert archive.committable({(LOG, 0): 15}) == {(LOG, 0): 15}


def test_resume_at_the_first_record_not_archived_or_not_applied(tmp_path: Path) -> None:
    archive = WorkerArchive(str(tmp_path))
    archive.add(records(0, 4))
    archive.close()
    stores = {(LOG, 0): 20, (LOG, 1): 3}  # next offsets the stores want
    assert archive.resume([(LOG, 0), (LOG, 1), (LOG, 2)], stores) == {
        (LOG, 0): 5,  # archived up to 4: read 5..19 again for the archive
        (LOG, 1): 0,  # nothing archived
        (LOG, 2): 0,  # nothing anywhere
    }


def test_a_buffer_never_spans_an_offset_jump(tmp_path: Path) -> None:
    archive = WorkerArchive(str(tmp_path))
    archive.add(records(0, 4) + records(10, 12))  # 5..9 never read (e.g. retention)
    assert [f.path for f in partition_files(archive.archive.storage, LOG, 0)] == [
        ArchiveFile(LOG, 0, 0, 4).path  # closed by the jump: written at once
    ]
    archive.close()
    reader = ArchiveReader(archive.archive.storage)
    assert list(reader.records()) == records(0, 4) + records(10, 12)
    assert reader.gaps == [Gap(LOG, 0, 5, 9)]


def test_revoke_reassign_and_replay_finds_every_record(tmp_path: Path) -> None:
    """A partition revoked while its archive write fails, archived meanwhile by another
    worker, then given back: its old buffer must not become a file covering a hole."""
    blocker = tmp_path / LOG  # every write of this worker fails while it is in the way
    blocker.write_text("in the way")
    first = WorkerArchive(str(tmp_path))
    first.add(records(0, 9))  # buffered (no threshold reached): nothing written yet
    first.revoked([(LOG, 0)])  # the flush fails: the buffer is dropped, not kept
    assert first.archive.buffered() == 0
    blocker.unlink()

    other = WorkerArchive(str(tmp_path))  # the next owner resumes at the archive: 0
    assert other.resume([(LOG, 0)], {(LOG, 0): 30}) == {(LOG, 0): 0}
    other.add(records(0, 19))
    other.archive.flush()
    other.add(records(20, 29))
    other.revoked([(LOG, 0)])  # written while still the owner

    assert first.resume([(LOG, 0)], {(LOG, 0): 30}) == {(LOG, 0): 30}  # given back
    first.add(records(30, 39))
    first.close()
    reader = ArchiveReader(first.archive.storage)
    assert list(reader.records()) == records(0, 39)
    assert reader.gaps == []
    assert [f.path for f in partition_files(first.archive.storage, LOG, 0)] == [
        ArchiveFile(LOG, 0, 0, 19).path,
        ArchiveFile(LOG, 0, 20, 29).path,
        ArchiveFile(LOG, 0, 30, 39).path,
    ]
