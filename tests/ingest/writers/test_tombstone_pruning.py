"""Tombstones of deleted tags and aliases are forgotten past the dedup horizon (issue 12,
item 7), by the time of the delete that left them, in batches, along with applied_events."""

from __future__ import annotations

import time

import psycopg
import pytest

from tracklog.contract.settings import DedupSettings, Settings
from tracklog.ingest.metrics import IngestMetrics
from tracklog.ingest.steps.prune_applied import AppliedEventsPruner
from tracklog.ingest.writers import ordered_tags
from tracklog.ingest.writers.postgres import PostgresWriter

pytestmark = pytest.mark.integration

DAY = 86_400


def key_days_ago(days: float) -> str:
    """An order key (ingest/projectors/order.py) of a delete that happened `days` ago."""
    return f"{int(time.time() - days * DAY):012d}{0:09d}/session/{1:020d}"


@pytest.fixture
def dsn(settings: Settings) -> str:
    writer = PostgresWriter(settings.postgres_dsn)
    writer.migrate()
    writer.close()
    return settings.postgres_dsn


def bury(dsn: str, rows: list[tuple[str, str, str]]) -> None:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        ordered_tags.bury(cur, "tags", rows)


def buried(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {str(r[0]) for r in conn.execute("SELECT key FROM lww_tombstones")}


def test_tombstones_older_than_the_horizon_are_forgotten_in_batches(dsn: str) -> None:
    bury(dsn, [("run0", f"old{i}", key_days_ago(31)) for i in range(5)])
    bury(dsn, [("run0", "recent", key_days_ago(29)), ("run0", "unordered", "")])
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert ordered_tags.prune_tombstones(conn, 30, limit=3) == 3
        assert ordered_tags.prune_tombstones(conn, 30, limit=3) == 3  # 2 old, the '' key
        assert ordered_tags.prune_tombstones(conn, 30, limit=3) == 0
    assert buried(dsn) == {"recent"}
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        # inside the horizon the tombstone still refuses an older set
        assert ordered_tags.buried_after(cur, "tags", ("run0",), "recent", key_days_ago(40))


def test_the_worker_s_pruner_forgets_old_tombstones_with_old_event_ids(dsn: str) -> None:
    bury(dsn, [("run0", "old", key_days_ago(45)), ("run0", "recent", key_days_ago(1))])
    metrics = IngestMetrics()
    pruner = AppliedEventsPruner(dsn, "postgres", DedupSettings(horizon_days=30), metrics)
    try:
        pruner.prune()
    finally:
        pruner.close()
    assert buried(dsn) == {"recent"}
    assert metrics.registry.get_sample_value(
        "tracklog_ingest_tombstones_pruned_total"
    ) == pytest.approx(1.0)
