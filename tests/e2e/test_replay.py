"""Consuming the whole topic again leaves both read models identical."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.pipeline import replay_from_offset_zero, running_pipeline, wait_until
from tests.e2e.snapshot import clickhouse_snapshot, postgres_snapshot
from tracklog import Session
from tracklog.contract.settings import Settings

pytestmark = pytest.mark.integration


def log_some_runs(settings: Settings) -> int:
    session = Session(settings.kafka, artifact_root=settings.artifact_root)
    session.set_experiment("replay")
    points = 0
    for r in range(3):
        with session.start_run(run_name=f"run-{r}", tags={"seed": str(r)}):
            session.log_params({"depth": r})
            session.set_tag("phase", "train")
            for step in range(2_000):
                session.log_metrics({"loss": 1.0 / (step + 1), "acc": float("nan")}, step=step)
                points += 2
            session.set_tag("phase", "done")
            session.artifacts.log_text(f"draft {r}", "notes/readme.txt")
            session.artifacts.log_text(f"final {r}", "notes/readme.txt")  # replaces the draft
            session.artifacts.log_dict({"run": r}, "config.json")
    assert session.flush(timeout=60)
    session.close()
    return points


def points_stored(client: Any, database: str) -> int:
    return int(client.query(f"SELECT count() FROM {database}.metric_points").result_rows[0][0])


def test_replaying_the_topic_from_the_beginning_changes_nothing(
    settings: Settings, clickhouse_client: Any
) -> None:
    points = log_some_runs(settings)
    database = settings.clickhouse_database
    with running_pipeline(settings, clickhouse_client) as pipeline:
        wait_until(lambda: points_stored(clickhouse_client, database) == points, what="points")
        wait_until(pipeline.worker.drained, what="the first worker to drain")
    postgres_before = postgres_snapshot(settings.postgres_dsn)
    clickhouse_before = clickhouse_snapshot(clickhouse_client, database)
    assert len(clickhouse_before) == points
    assert len(postgres_before["runs"]) == 3
    assert len(postgres_before["run_artifacts"]) == 6

    # A new consumer group reads the topic from offset 0, and the Postgres tracking rows are
    # gone too, so every Postgres change is applied a second time.
    replay_from_offset_zero(settings, clickhouse_client)

    assert postgres_snapshot(settings.postgres_dsn) == postgres_before
    assert clickhouse_snapshot(clickhouse_client, database) == clickhouse_before
