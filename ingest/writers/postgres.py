"""Step 6 (ingest/steps/write_postgres.py): apply projected row operations to Postgres,
exactly once per record.

One transaction per batch holds the view changes and the tracking rows
(projection_offsets: projection, topic, partition, last_offset). The tracking
rows of the batch's partitions are locked first; records at or below the
tracked offset were applied before and are skipped; the rest are merged
(params keep the first value, tags and run ends the last, latest metrics the
maximum) and written with one executemany per table; the tracking rows move to
the batch's last offsets (merged_rows.py). Registry ops are applied one by one in
log order (registry_writer.py) in the same transaction, as are the ids of the
events applied (event_ids.py). Replaying records therefore changes nothing, even
when two workers briefly own the same partition during a rebalance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from tracklog.contract.read_model import postgres_schema as schema_postgres
from tracklog.contract.topics import Partition
from tracklog.ingest.projectors.artifacts import ArtifactRow
from tracklog.ingest.projectors.postgres import PostgresOp
from tracklog.ingest.projectors.registry import RegistryOp
from tracklog.ingest.projectors.tracking import TRACKING_OPS, TrackingOp
from tracklog.ingest.records import Position
from tracklog.ingest.writers import artifacts as artifact_writer
from tracklog.ingest.writers import event_ids
from tracklog.ingest.writers import registry as registry_writer
from tracklog.ingest.writers import tracking as tracking_writer
from tracklog.ingest.writers.merged_rows import Merged, ParamConflict, write_merged
from tracklog.ingest.writers.tracking import TrackingConflict

log = logging.getLogger(__name__)

Connection = psycopg.Connection[tuple[Any, ...]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Applied:
    """What one apply() did: the records it applied (not seen before) and conflicts."""

    fresh: frozenset[Position]
    conflicts: tuple[ParamConflict, ...]
    tracking_conflicts: tuple[TrackingConflict, ...] = ()  # e.g. a rename to a taken name


class PostgresWriter:
    """Applies batches to the Postgres read model under the given projection name."""

    def __init__(self, dsn: str, projection: str = "postgres") -> None:
        self._dsn = dsn
        self.projection = projection
        self._conn: Connection | None = None

    def migrate(self) -> None:
        self._run(lambda conn: schema_postgres.migrate(conn))

    def positions(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """The last applied offset of each given partition that has one."""
        wanted = sorted(set(partitions))
        if not wanted:
            return {}

        def read(conn: Connection) -> dict[Partition, int]:
            rows = conn.execute(
                "SELECT topic, partition, last_offset FROM projection_offsets"
                " WHERE projection = %s AND last_offset >= 0 AND (topic, partition) IN"
                " (SELECT * FROM unnest(%s::text[], %s::int[]))",
                (self.projection, [t for t, _ in wanted], [p for _, p in wanted]),
            ).fetchall()
            return {(str(t), int(p)): int(o) for t, p, o in rows}

        return self._run(read)

    def registry_history(self) -> dict[Partition, int]:
        """(log, partition) -> the last offset of the events topic whose registry events are
        history (applied before registry events had their own topic; ingest/decode/authority.py)."""

        def read(conn: Connection) -> dict[Partition, int]:
            rows = conn.execute(
                "SELECT topic, partition, last_offset FROM registry_history_bounds"
            ).fetchall()
            return {(str(t), int(p)): int(o) for t, p, o in rows}

        return self._run(read)

    def seen_events(self, ids: Sequence[str]) -> dict[str, Position]:
        """The event ids among `ids` this projection applied before, and where."""
        return self._run(lambda conn: event_ids.seen(conn, self.projection, ids))

    def apply(
        self,
        batch: Sequence[tuple[Position, Sequence[PostgresOp]]],
        before_commit: Callable[[Applied], None] | None = None,
        ids: Sequence[tuple[Position, str]] = (),
    ) -> Applied:
        """Apply the records not applied yet, in one transaction with their tracking rows.

        `ids` are the event ids of the batch's records; those applied now are recorded.
        before_commit runs inside the transaction (an exception there rolls it back).
        """
        if not batch:
            return Applied(frozenset(), ())

        def transact(conn: Connection) -> Applied:
            with conn.transaction():
                tracked = self._lock_tracking(conn, {(p.log, p.partition) for p, _ in batch})
                merged = Merged()
                registry: list[RegistryOp] = []  # applied one by one, in log order
                tracking: list[tuple[Position, TrackingOp]] = []  # likewise
                artifacts: dict[tuple[str, str], ArtifactRow] = {}  # last one per path
                fresh: set[Position] = set()
                last: dict[Partition, int] = {}
                for position, ops in batch:
                    partition = (position.log, position.partition)
                    if position.offset <= tracked[partition]:
                        continue  # applied by an earlier transaction
                    fresh.add(position)
                    last[partition] = max(last.get(partition, -1), position.offset)
                    for op in ops:
                        if isinstance(op, RegistryOp):
                            registry.append(op)
                        elif isinstance(op, TRACKING_OPS):
                            tracking.append((position, op))
                        elif isinstance(op, ArtifactRow):
                            artifacts[(op.run_id, op.path)] = op
                        else:
                            merged.add(position, op)
                conflicts = [*merged.conflicts, *write_merged(conn, merged)]
                registry_writer.apply(conn, registry)
                artifact_writer.upsert(conn, artifacts)
                renames = tracking_writer.apply(conn, tracking)
                self._advance_tracking(conn, last)
                # a conflicting event stays replayable (tracklog dlq replay) after a fix
                refused = {c.position for c in conflicts} | {r.position for r in renames}
                fresh_ids = [(p, e) for p, e in ids if p in fresh and p not in refused]
                event_ids.record(conn, self.projection, fresh_ids)
                applied = Applied(frozenset(fresh), tuple(conflicts), tuple(renames))
                if before_commit is not None:
                    before_commit(applied)
            return applied

        return self._run(transact)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self, work: Callable[[Connection], T]) -> T:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._dsn, autocommit=True)
        try:
            return work(self._conn)
        except BaseException:
            self.close()  # start the retry from a fresh connection
            raise

    def _lock_tracking(self, conn: Connection, partitions: set[Partition]) -> dict[Partition, int]:
        ordered = sorted(partitions)
        topics, numbers = [t for t, _ in ordered], [p for _, p in ordered]
        conn.execute(
            "INSERT INTO projection_offsets (projection, topic, partition, last_offset)"
            " SELECT %s, t, p, -1 FROM unnest(%s::text[], %s::int[]) AS u(t, p)"
            " ON CONFLICT DO NOTHING",
            (self.projection, topics, numbers),
        )
        rows = conn.execute(
            "SELECT topic, partition, last_offset FROM projection_offsets"
            " WHERE projection = %s AND (topic, partition) IN"
            " (SELECT * FROM unnest(%s::text[], %s::int[]))"
            " ORDER BY topic, partition FOR UPDATE",
            (self.projection, topics, numbers),
        ).fetchall()
        return {(str(t), int(p)): int(o) for t, p, o in rows}

    def _advance_tracking(self, conn: Connection, last: dict[Partition, int]) -> None:
        if not last:
            return
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE projection_offsets SET last_offset = %s"
                " WHERE projection = %s AND topic = %s AND partition = %s AND last_offset < %s",
                [(o, self.projection, t, p, o) for (t, p), o in sorted(last.items())],
            )
