"""Lifecycle events (renames, deletes, restores, tag deletes, status changes, dataset
inputs, a rename conflict) replayed from offset 0 leave the read model identical."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.pipeline import replay_from_offset_zero, running_pipeline, wait_until
from tests.e2e.snapshot import POSTGRES_TABLES, postgres_snapshot
from tracklog import Session, TracklogClient
from tracklog.contract.settings import Settings
from tracklog.data import Dataset
from tracklog.events import lifecycle as events_tracking

pytestmark = pytest.mark.integration
TABLES = (*POSTGRES_TABLES, "run_inputs")


def test_replaying_lifecycle_events_changes_nothing(
    settings: Settings, clickhouse_client: Any
) -> None:
    with running_pipeline(settings, clickhouse_client) as pipeline:
        session = Session(settings.kafka, linger_seconds=0.005, query_addr=pipeline.address)
        client = TracklogClient(pipeline.address, session=session)
        a = client.create_experiment("a", tags={"t": "1"})
        b = client.create_experiment("b")
        client.rename_experiment(a, "a2")
        client.set_experiment_tag(a, "u", "2")
        client.delete_experiment_tag(a, "t")
        client.delete_experiment(b)
        client.restore_experiment(b)
        client.delete_experiment(b)
        session.emit(b, [events_tracking.experiment_renamed("a2")])  # conflict: kept as "b"
        run_id = client.create_run(a, tags={"x": "1"}).info.run_id
        client.log_metric(run_id, "m", 1.0)
        client.delete_tag(run_id, "x")
        client.set_tag(run_id, "x", "2")  # set after the delete: kept
        client.update_run(run_id, name="renamed", status="FINISHED")
        client.log_input(run_id, Dataset("d", "digest1", "local", "{}", "{}", "{}"), "train")
        client.delete_run(run_id)
        assert client.get_run(run_id).info.lifecycle_stage == "deleted"
        wait_until(pipeline.worker.drained, what="the first worker to drain")
        client.close()
        session.close(10)
    before = postgres_snapshot(settings.postgres_dsn, TABLES)
    names = sorted((row[1], row[3]) for row in before["experiments"])
    assert names == [("a2", "active"), ("b", "deleted")]
    assert len(before["run_inputs"]) == 1

    replay_from_offset_zero(settings, clickhouse_client)
    assert postgres_snapshot(settings.postgres_dsn, TABLES) == before
