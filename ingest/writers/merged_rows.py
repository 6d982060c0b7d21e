"""Tracking rows of one batch, folded per primary key and written with one statement
per table: params keep the first value (a different later value is a ParamConflict),
tags and run ends the latest by their events' order keys (ingest/projectors/order.py; a
tie goes to the later record), latest metrics the maximum. What is stored wins over an
older key too: tags through ordered_tags.py, run ends through runs.status_order. Runs
inside the batch transaction of ingest/writers/postgres.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg

from tracklog.ingest.projectors.metric_columns import Point, later
from tracklog.ingest.projectors.postgres import (
    ExperimentRow,
    ExperimentTagRow,
    LatestMetricRow,
    ParamRow,
    PostgresOp,
    RunEndRow,
    RunRow,
    RunTagRow,
)
from tracklog.ingest.projectors.tracking import TagChange
from tracklog.ingest.records import Position
from tracklog.ingest.writers import ordered_tags

log = logging.getLogger(__name__)

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class ParamConflict:
    """A param logged again with a different value; the first value was kept."""

    position: Position
    run_id: str
    key: str
    kept: str
    rejected: str


@dataclass(slots=True)
class Merged:
    """A batch's operations folded per primary key, in record order."""

    experiments: dict[str, ExperimentRow] = field(default_factory=dict)
    # (owner, key) -> (value, order key); a value None: deleted
    experiment_tags: dict[tuple[str, str], tuple[str | None, str]] = field(default_factory=dict)
    runs: dict[str, RunRow] = field(default_factory=dict)
    run_tags: dict[tuple[str, str], tuple[str | None, str]] = field(default_factory=dict)
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
            _latest(self.run_tags, (op.run_id, op.key), op.value, op.order)
        elif isinstance(op, RunRow):
            self.runs.setdefault(op.run_id, op)
        elif isinstance(op, RunEndRow):
            ended = self.run_ends.get(op.run_id)
            if ended is None or op.order >= ended.order:
                self.run_ends[op.run_id] = op
        elif isinstance(op, ExperimentRow):
            self.experiments.setdefault(op.experiment_id, op)
        elif isinstance(op, ExperimentTagRow):
            _latest(self.experiment_tags, (op.experiment_id, op.key), op.value, op.order)
        elif isinstance(op, TagChange):
            tags = self.run_tags if op.table == "tags" else self.experiment_tags
            _latest(tags, (op.owner_id, op.key), op.value, op.order)


def _latest(
    tags: dict[tuple[str, str], tuple[str | None, str]],
    tag: tuple[str, str],
    value: str | None,
    order: str,
) -> None:
    """Keep the change with the later order key (the later record on a tie)."""
    current = tags.get(tag)
    if current is None or order >= current[1]:
        tags[tag] = (value, order)


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


def write_merged(conn: Connection, merged: Merged) -> list[ParamConflict]:
    """Write the merged rows; return conflicts with params stored earlier."""
    with conn.cursor() as cur:
        if merged.experiments:
            rows = [merged.experiments[k] for k in sorted(merged.experiments)]
            cur.executemany(
                "INSERT INTO experiments (experiment_id, name, artifact_location,"
                " creation_time, last_update_time, name_order, lifecycle_order)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [
                    (
                        e.experiment_id,
                        e.name,
                        e.artifact_location,
                        e.creation_time,
                        e.creation_time,
                        e.order,
                        e.order,
                    )
                    for e in rows
                ],
            )
            _warn_name_clashes(conn, rows)
        _upsert_tags(cur, "experiment_tags", "experiment_id", merged.experiment_tags)
        if merged.runs:
            cur.executemany(
                "INSERT INTO runs (run_id, experiment_id, run_name, parent_run_id, user_id,"
                " status, start_time, artifact_uri, name_order, status_order, lifecycle_order)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
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
                        r.order,
                        r.order,
                        r.order,
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
                "UPDATE runs SET status = %s, end_time = %s, status_order = %s"
                " WHERE run_id = %s AND status_order <= %s",
                [
                    (e.status, e.end_time, e.order, e.run_id, e.order)
                    for _, e in sorted(merged.run_ends.items())
                ],
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
    tags: dict[tuple[str, str], tuple[str | None, str]],
) -> None:
    changes = sorted(tags.items())
    deletes = [((o,), k, order) for (o, k), (v, order) in changes if v is None]
    sets = [((o,), k, v, order) for (o, k), (v, order) in changes if v is not None]
    ordered_tags.delete_tags(cur, table, (owner,), deletes)
    ordered_tags.set_tags(cur, table, (owner,), sets)


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
