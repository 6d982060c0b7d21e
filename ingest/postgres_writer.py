"""Step 3a: apply projected row operations to Postgres, exactly once per record.

One transaction per batch holds the view changes and the tracking rows
(projection_offsets: projection, topic, partition, last_offset). The tracking
rows of the batch's partitions are locked first; records at or below the
tracked offset were applied before and are skipped; the rest are merged
(params keep the first value, tags and run ends the last, latest metrics the
maximum) and written with one executemany per table; the tracking rows move to
the batch's last offsets. Registry ops are applied one by one in log order
(registry_writer.py) in the same transaction. Replaying records therefore changes nothing, even
when two workers briefly own the same partition during a rebalance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from tracklog.ingest import (
    artifact_writer,
    event_ids,
    registry_writer,
    schema_postgres,
    tracking_writer,
)
from tracklog.ingest.metric_columns import Point, later
from tracklog.ingest.projector_artifacts import ArtifactRow
from tracklog.ingest.projector_postgres import (
    ExperimentRow,
    ExperimentTagRow,
    LatestMetricRow,
    ParamRow,
    PostgresOp,
    RunEndRow,
    RunRow,
    RunTagRow,
)
from tracklog.ingest.projector_registry import RegistryOp
from tracklog.ingest.projector_tracking import TRACKING_OPS, TagChange, TrackingOp
from tracklog.ingest.records import Position
from tracklog.ingest.tracking_writer import TrackingConflict

log = logging.getLogger(__name__)

Connection = psycopg.Connection[tuple[Any, ...]]
Partition = tuple[str, int]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ParamConflict:
    """A param logged again with a different value; the first value was kept."""

    position: Position
    run_id: str
    key: str
    kept: str
    rejected: str


@dataclass(frozen=True, slots=True)
class Applied:
    """What one apply() did: the records it applied (not seen before) and conflicts."""

    fresh: frozenset[Position]
    conflicts: tuple[ParamConflict, ...]
    tracking_conflicts: tuple[TrackingConflict, ...] = ()  # e.g. a rename to a taken name


@dataclass(slots=True)
class _Merged:
    """A batch's operations folded per primary key, in record order."""

    experiments: dict[str, ExperimentRow] = field(default_factory=dict)
    experiment_tags: dict[tuple[str, str], str | None] = field(default_factory=dict)  # None: del
    runs: dict[str, RunRow] = field(default_factory=dict)
    run_tags: dict[tuple[str, str], str | None] = field(default_factory=dict)
    params: dict[tuple[str, str], tuple[str, Position]] = field(default_factory=dict)
    run_ends: dict[str, RunEndRow] = field(default_factory=dict)
    latest: dict[tuple[str, str], Point] = field(default_factory=dict)
    conflicts: list[ParamConflict] = field(default_factory=list)

    def add(self, position: Position, op: PostgresOp) -> None:
        if isinstance(op, LatestMetricRow):
            point = (op.step, op.timestamp_ms, op.value)
            current = self.latest.get((op.run_id, op.key))
            self.latest[(op.run_id, op.key)] = point if current is None else later(current, point)
        elif isinstance(op, ParamRow):
            first = self.params.setdefault((op.run_id, op.key), (op.value, position))
            if first[0] != op.value:
                conflict = ParamConflict(position, op.run_id, op.key, first[0], op.value)
                self.conflicts.append(conflict)
        elif isinstance(op, RunTagRow):
            self.run_tags[(op.run_id, op.key)] = op.value
        elif isinstance(op, RunRow):
            self.runs.setdefault(op.run_id, op)
        elif isinstance(op, RunEndRow):
            self.run_ends[op.run_id] = op
        elif isinstance(op, ExperimentRow):
            self.experiments.setdefault(op.experiment_id, op)
        elif isinstance(op, ExperimentTagRow):
            self.experiment_tags[(op.experiment_id, op.key)] = op.value
        elif isinstance(op, TagChange):
            tags = self.run_tags if op.table == "tags" else self.experiment_tags
            tags[(op.owner_id, op.key)] = op.value


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

    def seen_events(self, ids: Sequence[str]) -> set[str]:
        """The event ids among `ids` this projection applied before."""
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
                tracked = self._lock_tracking(conn, {(p.topic, p.partition) for p, _ in batch})
                merged = _Merged()
                registry: list[RegistryOp] = []  # applied one by one, in log order
                tracking: list[tuple[Position, TrackingOp]] = []  # likewise
                artifacts: dict[tuple[str, str], ArtifactRow] = {}  # last one per path
                fresh: set[Position] = set()
                last: dict[Partition, int] = {}
                for position, ops in batch:
                    partition = (position.topic, position.partition)
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
                conflicts = [*merged.conflicts, *_write(conn, merged)]
                registry_writer.apply(conn, registry)
                artifact_writer.upsert(conn, artifacts)
                renames = tracking_writer.apply(conn, tracking)
                self._advance_tracking(conn, last)
                fresh_ids = [(p, e) for p, e in ids if p in fresh]
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


_PARAMS_SQL = """
WITH incoming AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) AS u(run_id, key, value)
), inserted AS (
    INSERT INTO params (run_id, key, value) SELECT run_id, key, value FROM incoming
    ON CONFLICT (run_id, key) DO NOTHING RETURNING 1
)
SELECT i.run_id, i.key, p.value, i.value
FROM incoming i JOIN params p USING (run_id, key) WHERE p.value <> i.value
"""
# The outer SELECT sees params as they were before this statement: it finds the
# incoming values that differ from an already stored (first) value.

_LATEST_SQL = """
INSERT INTO latest_metrics AS m (run_id, key, step, timestamp_ms, value)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (run_id, key) DO UPDATE
SET step = excluded.step, timestamp_ms = excluded.timestamp_ms, value = excluded.value
WHERE (excluded.step, excluded.timestamp_ms, excluded.value) > (m.step, m.timestamp_ms, m.value)
"""


def _write(conn: Connection, merged: _Merged) -> list[ParamConflict]:
    """Write the merged rows; return conflicts with params stored earlier."""
    with conn.cursor() as cur:
        if merged.experiments:
            rows = [merged.experiments[k] for k in sorted(merged.experiments)]
            cur.executemany(
                "INSERT INTO experiments (experiment_id, name, artifact_location,"
                " creation_time, last_update_time) VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [
                    (e.experiment_id, e.name, e.artifact_location, e.creation_time, e.creation_time)
                    for e in rows
                ],
            )
            _warn_name_clashes(conn, rows)
        _upsert_tags(cur, "experiment_tags", "experiment_id", merged.experiment_tags)
        if merged.runs:
            cur.executemany(
                "INSERT INTO runs (run_id, experiment_id, run_name, parent_run_id, user_id,"
                " status, start_time, artifact_uri) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (run_id) DO NOTHING",
                [
                    (
                        r.run_id,
                        r.experiment_id,
                        r.run_name,
                        r.parent_run_id,
                        r.user_id,
                        r.status,
                        r.start_time,
                        r.artifact_uri,
                    )
                    for _, r in sorted(merged.runs.items())
                ],
            )
        _upsert_tags(cur, "tags", "run_id", merged.run_tags)
        conflicts: list[ParamConflict] = []
        if merged.params:
            keys = sorted(merged.params)
            rows_p = cur.execute(
                _PARAMS_SQL,
                ([r for r, _ in keys], [k for _, k in keys], [merged.params[k][0] for k in keys]),
            ).fetchall()
            for run_id, key, kept, rejected in rows_p:
                position = merged.params[(run_id, key)][1]
                conflicts.append(ParamConflict(position, run_id, key, kept, rejected))
        if merged.run_ends:
            cur.executemany(
                "UPDATE runs SET status = %s, end_time = %s WHERE run_id = %s",
                [(e.status, e.end_time, e.run_id) for _, e in sorted(merged.run_ends.items())],
            )
        if merged.latest:
            cur.executemany(
                _LATEST_SQL,
                [(r, k, *point) for (r, k), point in sorted(merged.latest.items())],
            )
    return conflicts


def _upsert_tags(
    cur: psycopg.Cursor[tuple[Any, ...]],
    table: str,
    owner: str,
    tags: dict[tuple[str, str], str | None],
) -> None:
    tracking_writer.delete_tags(cur, table, owner, [k for k, v in tags.items() if v is None])
    tags = {k: v for k, v in tags.items() if v is not None}
    if not tags:
        return
    query = sql.SQL(
        "INSERT INTO {table} ({owner}, key, value) VALUES (%s, %s, %s)"
        " ON CONFLICT ({owner}, key) DO UPDATE SET value = excluded.value"
    ).format(table=sql.Identifier(table), owner=sql.Identifier(owner))
    cur.executemany(query, [(o, k, v) for (o, k), v in sorted(tags.items())])


def _warn_name_clashes(conn: Connection, experiments: list[ExperimentRow]) -> None:
    ids = [e.experiment_id for e in experiments]
    stored = {
        str(r[0])
        for r in conn.execute(
            "SELECT experiment_id FROM experiments WHERE experiment_id = ANY(%s)", (ids,)
        )
    }
    for e in experiments:
        if e.experiment_id not in stored:
            log.warning(
                "experiment %s not created: the name %r belongs to another experiment",
                e.experiment_id,
                e.name,
            )
