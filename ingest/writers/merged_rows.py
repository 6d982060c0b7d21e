"""Tracking rows of one batch, folded per primary key and written with one statement
per table: params keep the first value (a different later value is a ParamConflict),
tags and run ends the last, latest metrics the maximum. Runs inside the batch
transaction of ingest/writers/postgres.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

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
from tracklog.ingest.writers import tracking as tracking_writer

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
