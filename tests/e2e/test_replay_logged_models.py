"""MLflow 3's logged models (created, params, metrics, tags set and deleted, finalized,
deleted, a run's outputs and model inputs) replayed from offset 0 leave the read model identical."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.pipeline import replay_from_offset_zero, running_pipeline, wait_until
from tests.e2e.snapshot import postgres_snapshot
from tracklog import Session, TracklogClient
from tracklog.contract.settings import Settings
from tracklog.events.logged_models import ModelMetric

pytestmark = pytest.mark.integration
TABLES = (
    "logged_models",
    "logged_model_tags",
    "logged_model_params",
    "logged_model_metrics",
    "run_outputs",
    "run_model_inputs",
)


def test_replaying_logged_model_events_changes_nothing(
    settings: Settings, clickhouse_client: Any
) -> None:
    with running_pipeline(settings, clickhouse_client) as pipeline:
        session = Session(settings.kafka, linger_seconds=0.005, query_addr=pipeline.address)
        client = TracklogClient(pipeline.address, session=session)
        experiment = client.create_experiment("models")
        run_id = client.create_run(experiment).info.run_id
        kept = client.create_logged_model(
            experiment, "model", source_run_id=run_id, tags={"a": "1"}, params={"p": "1"}
        )
        client.log_logged_model_params(kept.model_id, {"p": "changed", "q": "2"})
        client.set_logged_model_tags(kept.model_id, {"b": "2", "a": "3"})
        client.delete_logged_model_tag(kept.model_id, "b")
        client.finalize_logged_model(kept.model_id, "READY")
        client.log_model_output(run_id, kept.model_id, step=3)
        points = [ModelMetric("acc", 0.5, 1000, 0), ModelMetric("acc", float("nan"), 1001, 1)]
        client.log_model_metrics(kept.model_id, run_id, points)
        client.log_model_metrics(kept.model_id, run_id, points[:1])  # again: one row
        client.log_model_output(run_id, kept.model_id, step=3)  # the same output: one row
        client.log_model_inputs(run_id, [kept.model_id, "m-unknown", kept.model_id])
        client.log_model_inputs(run_id, [kept.model_id])  # again: still one row per model
        gone = client.create_logged_model(experiment, "other", model_type="agent")
        client.delete_logged_model(gone.model_id)
        found = client.get_logged_model(kept.model_id)
        assert (found.status, found.tags, found.params) == (
            "READY",
            {"a": "3"},
            {"p": "1", "q": "2"},  # params are written once
        )
        assert [(m.step, m.run_id) for m in found.metrics] == [(0, run_id), (1, run_id)]
        assert client.get_logged_model(gone.model_id, allow_deleted=True).lifecycle_stage == (
            "deleted"
        )
        wait_until(pipeline.worker.drained, what="the first worker to drain")
        client.close()
        session.close(10)
    before = postgres_snapshot(settings.postgres_dsn, TABLES)
    assert len(before["logged_models"]) == 2 and len(before["run_outputs"]) == 1
    assert [row[1] for row in before["run_model_inputs"]] == [kept.model_id, "m-unknown"]
    assert len(before["logged_model_metrics"]) == 2

    replay_from_offset_zero(settings, clickhouse_client)
    assert postgres_snapshot(settings.postgres_dsn, TABLES) == before
