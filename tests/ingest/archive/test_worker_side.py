"""The worker's archive hooks: offsets safe to commit, where to resume."""

from __future__ import annotations

from pathlib import Path

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
