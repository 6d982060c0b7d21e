"""Revoke, reassign, replay: the event archive holds every record once the partitions
have moved between workers (issue 12, item 9).

Two workers share an archive root; files are small (5 records) so that a partition's
archive is several files. The first worker's archive fails the one write it attempts when
its partitions are revoked (the second worker joins): its buffers must be dropped, not
kept, or else, when a partition it held comes back after the second worker archived it
meanwhile, the old buffer and the new records become one file whose name covers records it
does not hold; reading by file names then skipped the second worker's later files."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import tracklog.ingest.archive.worker_side
from tests.faults.topic_ends import end_offsets
from tests.ingest.events import metrics_logged, produce, running, wait_until
from tracklog.contract.settings import Settings
from tracklog.ingest.archive.event_archive import open_archive
from tracklog.ingest.archive.reader import ArchiveReader
from tracklog.ingest.archive.storage import ArchiveStorage
from tracklog.ingest.worker import Worker
from tracklog.v1 import events_pb2 as pb

pytestmark = pytest.mark.integration


class FailNextWrite:
    """An archive storage whose next write fails once armed."""

    def __init__(self, storage: ArchiveStorage) -> None:
        self._storage = storage
        self.root = storage.root
        self.armed = False
        self.failed = 0

    def put(self, path: str, data: bytes) -> None:
        if self.armed:
            self.armed = False
            self.failed += 1
            raise OSError("archive storage unavailable (injected)")
        self._storage.put(path, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)


def owned(worker: Worker, topic: str) -> set[int]:
    """The partitions of the events topic the worker's consumer is assigned."""
    return {tp.partition for tp in worker._consumer.assignment() if tp.topic == topic}


def events(first: int, count: int) -> list[pb.Envelope]:
    return [
        metrics_logged(f"run{i % 23}", [("loss", i, 1_000 + i, 0.5)], seq=10 + i)
        for i in range(first, first + count)
    ]


def test_revoke_reassign_and_replay_finds_every_record(
    settings: Settings, clickhouse_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = replace(settings, archive_root=str(tmp_path / "archive"))
    small = functools.partial(open_archive, max_records=5, max_age_seconds=3600)
    monkeypatch.setattr(tracklog.ingest.archive.worker_side, "open_archive", small)
    topic = settings.kafka.events_topic

    one = Worker(settings, clickhouse_client)
    assert one._archive is not None
    flaky = FailNextWrite(one._archive.archive.storage)
    one._archive.archive.storage = flaky  # type: ignore[assignment]
    with running(one) as first:
        produce(settings, events(0, 103))
        wait_until(lambda: first.drained(103), what="the first worker to drain")
        assert one._archive.archive.buffered() > 0  # partial buffers, not written yet
        flaky.armed = True  # the flush at the coming revocation fails
        two = Worker(settings, clickhouse_client)
        with running(two):
            wait_until(lambda: flaky.failed == 1, what="the revocation's failed write")
            produce(settings, events(103, 97))
            wait_until(
                lambda: one.drained() and two.drained() and bool(two.stats.events_consumed),
                what="both workers to drain",
            )
        # the second worker stopped: its partitions come back to the first
        produce(settings, events(200, 50))
        ends = end_offsets(settings, topic)
        wait_until(
            lambda: owned(one, topic) == set(ends) and one.drained(),
            what="the first worker to take every partition back and drain",
        )
    assert sum(ends.values()) == 250
    reader = ArchiveReader(open_archive(settings.archive_root).storage)
    archived = [r for r in reader.records() if r.position.log.startswith(f"{topic}@")]
    assert reader.gaps == []
    offsets: dict[int, list[int]] = {}
    for record in archived:
        offsets.setdefault(record.position.partition, []).append(record.position.offset)
    assert offsets == {p: list(range(end)) for p, end in ends.items() if end}
