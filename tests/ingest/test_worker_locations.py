"""Forged artifact locations through the real worker (issue 12, item 6): an event naming a
location outside the allowed roots is dead-lettered with the reason; inside is applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ingest.events import (
    experiment_created,
    postgres_snapshot,
    produce,
    run_started,
    running,
    wait_until,
)
from tests.ingest.test_worker import read_topic
from tracklog.contract.settings import Settings
from tracklog.ingest.worker import Worker
from tracklog.v1 import events_pb2 as pb

pytestmark = pytest.mark.integration


def located_run(run_id: str, uri: str) -> pb.Envelope:
    e = run_started(run_id, "e1", run_id)
    e.run_started.artifact_uri = uri
    return e


def test_forged_locations_are_dead_lettered_and_those_inside_the_roots_applied(
    settings: Settings, clickhouse_client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRACKLOG_ARTIFACT_ROOTS", "s3://ml-artifacts/tracklog")
    root = Path(settings.artifact_root)
    experiment = experiment_created("e1", "placed")
    experiment.experiment_created.artifact_location = str(root / "e1")
    events = [
        experiment,
        located_run("inside", f"{root.as_uri()}/e1/inside/artifacts"),
        located_run("on-s3", "s3://ml-artifacts/tracklog/e1/on-s3/artifacts"),
        located_run("forged-file", (tmp_path / "home" / "alice").as_uri()),
        located_run("forged-s3", "s3://attacker-bucket/loot"),
        located_run("climbing", f"{root}/e1/../../../etc"),
    ]
    worker = Worker(settings, clickhouse_client)
    with running(worker) as runner:
        produce(settings, events)
        wait_until(lambda: runner.drained(len(events)), what="the worker to drain")
    assert worker.stats.dead_letters == 3
    runs = postgres_snapshot(settings.postgres_dsn)["runs"]
    assert sorted(r[0] for r in runs) == ["inside", "on-s3"]
    letters = read_topic(settings, settings.kafka.dead_letter_topic, 3)
    reasons = sorted(dict(m.headers)["reason"].decode() for m in letters)
    assert all("outside the allowed artifact roots" in r for r in reasons)
