"""applied_events is pruned past the dedup horizon (issue 12, item 7): the ids of events
applied longer ago are forgotten, in batches; a resend inside the horizon is still dropped."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.ingest.events import metrics_logged, produce, running, tags_set, wait_until
from tracklog.contract.settings import DedupSettings, Settings
from tracklog.ingest.records import Position
from tracklog.ingest.worker import Worker
from tracklog.ingest.writers import event_ids
from tracklog.ingest.writers.postgres import PostgresWriter

pytestmark = pytest.mark.integration


@pytest.fixture
def dsn(settings: Settings) -> str:
    writer = PostgresWriter(settings.postgres_dsn)
    writer.migrate()
    writer.close()
    return settings.postgres_dsn


def backdate(dsn: str, days: float, event_ids_: list[str]) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE applied_events SET applied_at = now() - make_interval(days => %s)"
            " WHERE event_id = ANY(%s)",
            (days, event_ids_),
        )


def remembered(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {str(r[0]) for r in conn.execute("SELECT event_id FROM applied_events")}


def test_prune_forgets_only_ids_older_than_the_horizon_in_batches(dsn: str) -> None:
    ids = [f"e{i}" for i in range(7)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        event_ids.record(conn, "postgres", [(Position("t@1", 0, i), e) for i, e in enumerate(ids)])
        event_ids.record(conn, "other", [(Position("t@1", 0, 0), "e0")])
    backdate(dsn, 31, ids[:5])
    backdate(dsn, 29, ids[5:6])
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert event_ids.prune(conn, "postgres", 30, limit=3) == 3  # oldest first, 3 at most
        assert event_ids.prune(conn, "postgres", 30, limit=3) == 2
        assert event_ids.prune(conn, "postgres", 30, limit=3) == 0
        assert event_ids.seen(conn, "postgres", ids) == {
            "e5": Position("t@1", 0, 5),
            "e6": Position("t@1", 0, 6),
        }
        assert event_ids.seen(conn, "other", ["e0"]) == {"e0": Position("t@1", 0, 0)}


def test_a_resend_inside_the_horizon_is_still_dropped_after_pruning(
    settings: Settings, clickhouse_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLOG_DEDUP_HORIZON_DAYS", "30")
    recent = metrics_logged("run0", [("loss", s, 1_000 + s, 0.5) for s in range(10)])
    old = tags_set("run0", {"phase": "a"})
    with running(Worker(settings, clickhouse_client)) as runner:
        produce(settings, [recent, old])
        wait_until(lambda: runner.drained(2), what="the first copies")
    backdate(settings.postgres_dsn, 45, [old.event_id])  # applied 45 days ago
    backdate(settings.postgres_dsn, 29, [recent.event_id])  # 29 days ago: inside

    worker = Worker(settings, clickhouse_client)
    with running(worker) as runner:  # its first turn prunes
        wait_until(lambda: old.event_id not in remembered(settings.postgres_dsn), what="pruned")
        assert recent.event_id in remembered(settings.postgres_dsn)
        produce(settings, [recent, old])  # an SDK resending both
        wait_until(lambda: runner.drained(2), what="the copies")
    assert worker.stats.duplicates == 1  # the copy inside the horizon
    assert worker.metrics.registry.get_sample_value(
        "tracklog_ingest_applied_events_pruned_total"
    ) == pytest.approx(1.0)
    # Past the horizon the copy is applied again; a tag set again changes nothing.
    assert old.event_id in remembered(settings.postgres_dsn)


def test_dedup_settings_from_the_environment() -> None:
    assert DedupSettings.from_env({}) == DedupSettings(30.0, 300.0, 10_000)
    got = DedupSettings.from_env(
        {"TRACKLOG_DEDUP_HORIZON_DAYS": "0", "TRACKLOG_DEDUP_PRUNE_INTERVAL_SECONDS": "60"}
    )
    assert (got.horizon_days, got.prune_interval_seconds) == (0.0, 60.0)
    with pytest.raises(ValueError):
        DedupSettings(horizon_days=-1)
