"""Between DropResent and the writes: every `prune_interval_seconds`, forget the event ids
applied longer ago than the dedup horizon (ingest/writers/event_ids.py `prune`) and the
tombstones of deletes older than it (ingest/writers/ordered_tags.py `prune_tombstones`), in
batches of `prune_batch` rows, a few batches per turn at most so a backlog of old rows
never holds the consumer loop long. Batches pass through untouched. A failure is logged
and retried at the next interval (pruning is bookkeeping: it never pauses ingestion).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
from prometheus_client import Counter

from tracklog.contract.settings import DedupSettings
from tracklog.ingest.batch import ProjectedBatch
from tracklog.ingest.metrics import PREFIX, IngestMetrics
from tracklog.ingest.steps import Step
from tracklog.ingest.writers import event_ids, ordered_tags

log = logging.getLogger(__name__)

BATCHES_PER_TURN = 5


class AppliedEventsPruner:
    """Deletes applied_events rows past the horizon over a connection of its own."""

    def __init__(
        self, dsn: str, projection: str, dedup: DedupSettings, metrics: IngestMetrics
    ) -> None:
        self._dsn = dsn
        self._projection = projection
        self.dedup = dedup
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self.pruned = Counter(
            PREFIX + "applied_events_pruned",
            "Ids of applied events forgotten past TRACKLOG_DEDUP_HORIZON_DAYS",
            registry=metrics.registry,
        )
        self.tombstones_pruned = Counter(
            PREFIX + "tombstones_pruned",
            "Tombstones of deleted tags and aliases forgotten past TRACKLOG_DEDUP_HORIZON_DAYS",
            registry=metrics.registry,
        )

    def prune(self) -> int:
        """Delete up to BATCHES_PER_TURN batches of applied event ids past the horizon, then
        as many of tombstones (counted in `tombstones_pruned`); event ids deleted."""
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._dsn, autocommit=True)
        conn = self._conn
        horizon, batch = self.dedup.horizon_days, self.dedup.prune_batch
        try:
            total = self._in_batches(
                lambda: event_ids.prune(conn, self._projection, horizon, batch)
            )
            buried = self._in_batches(lambda: ordered_tags.prune_tombstones(conn, horizon, batch))
        except BaseException:
            self.close()
            raise
        self.tombstones_pruned.inc(buried)
        return total

    def _in_batches(self, delete: Callable[[], int]) -> int:
        total = 0
        for _ in range(BATCHES_PER_TURN):
            deleted = delete()
            total += deleted
            if deleted < self.dedup.prune_batch:
                break
        return total

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PruneAppliedEvents:
    def __init__(
        self,
        pruner: AppliedEventsPruner,
        next_step: Step[ProjectedBatch],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pruner = pruner
        self._next = next_step
        self._clock = clock
        self._due = clock()  # the first turn prunes

    def submit(self, batch: ProjectedBatch) -> None:
        self._next.submit(batch)

    def poll(self) -> None:
        if self._pruner.dedup.horizon_days > 0 and self._clock() >= self._due:
            self._due = self._clock() + self._pruner.dedup.prune_interval_seconds
            try:
                pruned = self._pruner.prune()
            except Exception as exc:
                log.warning(
                    "pruning applied_events failed (%s); retried in %.0f s",
                    exc,
                    self._pruner.dedup.prune_interval_seconds,
                )
            else:
                self._pruner.pruned.inc(pruned)
                if pruned:
                    log.info(
                        "forgot %d applied event ids older than %g days (applied_events)",
                        pruned,
                        self._pruner.dedup.horizon_days,
                    )
        self._next.poll()

    def join(self, timeout: float | None = None) -> None:
        self._pruner.close()
        self._next.join(timeout)
