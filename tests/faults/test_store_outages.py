"""Store outages: Postgres stopped for 30 s, ClickHouse failing for 30 s.

The worker must pause consumption, retry with back-off, commit nothing, say why,
and recover by itself, leaving both read models complete with no duplicates.
Each test prints its figures (events sent, projected, lost, duplicated).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.ingest.events import (
    experiment_created,
    metrics_logged,
    params_logged,
    produce,
    run_ended,
    run_started,
    running,
    wait_until,
)
from tracklog.contract.settings import Settings
from tracklog.deploy.embedded.postgres import EmbeddedPostgres, create_database
from tracklog.ingest.worker import Worker
from tracklog.v1 import events_pb2 as pb

OUTAGE_SECONDS = 30.0
STEPS_PER_RUN = 2_000  # x 2 keys per run


def runs(prefix: str, count: int) -> list[pb.Envelope]:
    events = [experiment_created(f"e-{prefix}", f"exp-{prefix}")]
    for r in range(count):
        run = f"{prefix}-{r}"
        events += [
            run_started(run, f"e-{prefix}", run),
            params_logged(run, {"lr": "0.1", "r": str(r)}),
        ]
        for chunk in range(0, STEPS_PER_RUN, 500):
            steps = range(chunk, chunk + 500)
            events.append(
                metrics_logged(
                    run, [(k, s, 1_000 + s, s / 7) for s in steps for k in ("loss", "acc")]
                )
            )
        events.append(run_ended(run))
    return events


def points_of(events: list[pb.Envelope]) -> int:
    return sum(len(e.metrics_logged.keys) for e in events)


def clickhouse_counts(client: Any, database: str) -> tuple[int, int]:
    """(rows, distinct (run, key, step, timestamp) points) in metric_points."""
    rows, distinct = client.query(
        f"SELECT count(), uniqExact(run_id, key, step, timestamp_ms) FROM {database}.metric_points"
    ).result_rows[0]
    return int(rows), int(distinct)


def postgres_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {
            table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
            for table in ("runs", "params", "latest_metrics")
        }


def report(name: str, sent: int, rows: int, distinct: int, outage: float, recovery: float) -> None:
    print(
        f"\n[{name}] points sent {sent}, projected {distinct}, lost {sent - distinct},"
        f" duplicated {rows - distinct}; outage {outage:.1f} s, caught up {recovery:.1f} s after"
    )


@pytest.fixture
def own_postgres(settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, EmbeddedPostgres]]:
    """The test's own Postgres server (stopping the session's would break other tests)."""
    server = EmbeddedPostgres(tmp_path / "pgdata").start()
    create_database(server.dsn(), "outage")
    try:
        yield replace(settings, postgres_dsn=server.dsn("outage")), server
    finally:
        server.stop()


def test_postgres_stopped_for_30s_loses_and_doubles_nothing(
    own_postgres: tuple[Settings, EmbeddedPostgres], clickhouse_client: Any
) -> None:
    settings, server = own_postgres
    before, during = runs("before", 4), runs("during", 4)
    worker = Worker(settings, clickhouse_client)
    with running(worker) as runner:
        produce(settings, before)
        wait_until(lambda: runner.drained(len(before)), what="the first runs")
        committed = worker.stats.batches

        server.stop()
        stopped_at = time.monotonic()
        produce(settings, during)  # the broker still takes events; the worker cannot write
        wait_until(lambda: worker.stats.paused_because, what="the worker to pause")
        assert "postgres" in worker.stats.paused_because
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
        assert worker.stats.batches == committed, "a batch was written during the outage"
        retries = worker.stats.retries
        assert retries >= 3  # backed off, not spinning: 0.25 + 0.5 + 1 + ... < 30 s
        assert retries <= 12

        server.start()
        restarted_at = time.monotonic()
        wait_until(lambda: runner.drained(len(before) + len(during)), 120, "the recovery")
        recovered = time.monotonic() - restarted_at
        assert not worker.stats.paused_because

    rows, distinct = clickhouse_counts(clickhouse_client, settings.clickhouse_database)
    sent = points_of(before) + points_of(during)
    report("postgres down", sent, rows, distinct, OUTAGE_SECONDS, recovered)
    assert (rows, distinct) == (sent, sent)
    assert postgres_counts(settings.postgres_dsn) == {"runs": 8, "params": 16, "latest_metrics": 16}


def test_clickhouse_failing_for_30s_loses_and_doubles_nothing(
    settings: Settings, clickhouse_client: Any
) -> None:
    before, during = runs("before", 4), runs("during", 4)
    database = settings.clickhouse_database
    worker = Worker(settings, clickhouse_client)
    with running(worker) as runner:
        produce(settings, before)
        wait_until(lambda: runner.drained(len(before)), what="the first runs")
        written = worker.stats.points_written

        clickhouse_client.command(f"DETACH TABLE {database}.metric_points")  # inserts now fail
        failing_at = time.monotonic()
        produce(settings, during)
        wait_until(lambda: worker.stats.paused_because, what="the worker to pause")
        assert "clickhouse" in worker.stats.paused_because
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - failing_at)))
        # (a batch without metric points needs no ClickHouse insert and may go through)
        assert worker.stats.points_written == written, "points were written during the outage"
        assert postgres_counts(settings.postgres_dsn)["latest_metrics"] == 8  # Postgres waited

        clickhouse_client.command(f"ATTACH TABLE {database}.metric_points")
        back_at = time.monotonic()
        wait_until(lambda: runner.drained(len(before) + len(during)), 120, "the recovery")
        recovered = time.monotonic() - back_at

    rows, distinct = clickhouse_counts(clickhouse_client, database)
    sent = points_of(before) + points_of(during)
    report("clickhouse failing", sent, rows, distinct, OUTAGE_SECONDS, recovered)
    assert (rows, distinct) == (sent, sent)
    assert postgres_counts(settings.postgres_dsn) == {"runs": 8, "params": 16, "latest_metrics": 16}


def test_a_worker_started_while_postgres_is_down_waits_for_it(
    own_postgres: tuple[Settings, EmbeddedPostgres], clickhouse_client: Any
) -> None:
    settings, server = own_postgres
    server.stop()
    events = runs(uuid.uuid4().hex[:6], 2)
    produce(settings, events)
    worker = Worker(settings, clickhouse_client)  # no exception: it retries in run()
    with running(worker) as runner:
        wait_until(lambda: worker.stats.retries >= 2, what="the worker to retry its start")
        assert runner.error is None
        server.start()
        wait_until(lambda: runner.drained(len(events)), 60, "the worker to start and drain")
    assert postgres_counts(settings.postgres_dsn)["runs"] == 2
