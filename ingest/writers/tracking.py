"""Step 6 for lifecycle operations: apply them to Postgres in log order, inside the
batch's transaction (postgres_writer.py calls `apply` after the batch's inserts).

Renames, deletes and restores are UPDATEs guarded by the order key of the value they
replace (experiments.name_order and lifecycle_order, runs.name_order and lifecycle_order;
ingest/projectors/order.py): a late copy of an older change is skipped, so the latest
change wins whatever order the log holds them in. Dataset inputs are inserted once, so
replaying them leaves the same rows. An experiment name is unique: a rename to a
name another experiment holds keeps the first owner and is returned as a
`TrackingConflict` (the worker dead-letters it with the reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from tracklog.ingest.projectors.logged_models import LOGGED_MODEL_OPS
from tracklog.ingest.projectors.tracking import (
    DatasetInputRow,
    ExperimentRename,
    LifecycleChange,
    RunRename,
    TrackingOp,
)
from tracklog.ingest.records import Position
from tracklog.ingest.writers import logged_models as logged_models_writer

Connection = psycopg.Connection[tuple[Any, ...]]
EXPERIMENT_NAME_CONFLICT = "experiment name conflict"


@dataclass(frozen=True, slots=True)
class TrackingConflict:
    """A lifecycle event the projection could not apply as asked; the first state was kept."""

    position: Position
    reason: str
    detail: str


def apply(conn: Connection, ops: Sequence[tuple[Position, TrackingOp]]) -> list[TrackingConflict]:
    conflicts: list[TrackingConflict] = []
    for position, op in ops:
        if isinstance(op, ExperimentRename):
            conflict = _rename_experiment(conn, op)
            if conflict:
                conflicts.append(TrackingConflict(position, EXPERIMENT_NAME_CONFLICT, conflict))
        elif isinstance(op, LifecycleChange):
            _lifecycle(conn, op)
        elif isinstance(op, LOGGED_MODEL_OPS):
            logged_models_writer.apply_one(conn, op)
        elif isinstance(op, RunRename):
            conn.execute(
                "UPDATE runs SET run_name = %s, name_order = %s"
                " WHERE run_id = %s AND name_order <= %s",
                (op.name, op.order, op.run_id, op.order),
            )
        elif isinstance(op, DatasetInputRow):
            conn.execute(
                "INSERT INTO run_inputs (run_id, dataset_name, dataset_digest, context,"
                " source_type, source, schema, profile, tags)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    op.run_id,
                    op.name,
                    op.digest,
                    op.context,
                    op.source_type,
                    op.source,
                    op.schema,
                    op.profile,
                    Jsonb([list(tag) for tag in op.tags]),
                ),
            )
    return conflicts


def _rename_experiment(conn: Connection, op: ExperimentRename) -> str:
    """Rename unless another experiment holds the name; the conflict's detail, else ''.

    A rename older than the experiment's current name is skipped (no conflict)."""
    if _superseded(conn, "experiments", "name_order", op.experiment_id, op.order):
        return ""
    holder = conn.execute(
        "SELECT experiment_id FROM experiments WHERE name = %s AND experiment_id <> %s",
        (op.name, op.experiment_id),
    ).fetchone()
    if holder is None:
        try:
            with conn.transaction():  # a savepoint: a concurrent worker may take the name
                conn.execute(
                    "UPDATE experiments SET name = %s, name_order = %s,"
                    " last_update_time = coalesce(%s, last_update_time) WHERE experiment_id = %s",
                    (op.name, op.order, op.at, op.experiment_id),
                )
            return ""
        except psycopg.errors.UniqueViolation:
            holder = (None,)
    return (
        f"experiment {op.experiment_id} not renamed to {op.name!r}: the name belongs to "
        f"experiment {holder[0] or 'another experiment'}"
    )


def _lifecycle(conn: Connection, op: LifecycleChange) -> None:
    if _superseded(conn, op.table, "lifecycle_order", op.owner_id, op.order):
        return
    if op.table == "experiments":
        _cascade_to_runs(conn, op)
    owner = "experiment_id" if op.table == "experiments" else "run_id"
    touch = ", last_update_time = coalesce(%s, last_update_time)"
    query = sql.SQL(
        "UPDATE {table} SET lifecycle_stage = %s, deleted_time = %s, lifecycle_order = %s"
        + (touch if op.table == "experiments" else "")
        + " WHERE {owner} = %s"
    ).format(table=sql.Identifier(op.table), owner=sql.Identifier(owner))
    args: list[Any] = [op.stage, op.deleted_time, op.order]
    if op.table == "experiments":
        args.append(op.at)
    conn.execute(query, [*args, op.owner_id])


def _superseded(conn: Connection, table: str, column: str, owner_id: str, order: str) -> bool:
    """Whether the row's `column` holds a later order key than `order`."""
    owner = "experiment_id" if table == "experiments" else "run_id"
    query = sql.SQL("SELECT 1 FROM {table} WHERE {owner} = %s AND {column} > %s").format(
        table=sql.Identifier(table), owner=sql.Identifier(owner), column=sql.Identifier(column)
    )
    return conn.execute(query, (owner_id, order)).fetchone() is not None


def _cascade_to_runs(conn: Connection, op: LifecycleChange) -> None:
    """As MLflow: deleting an experiment deletes its active runs (stamped with the same
    deleted time); restoring it restores exactly those, not runs deleted on their own."""
    if op.stage == "deleted":
        conn.execute(
            "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = %s, lifecycle_order = %s"
            " WHERE experiment_id = %s AND lifecycle_stage = 'active' AND lifecycle_order <= %s",
            (op.deleted_time, op.order, op.owner_id, op.order),
        )
        return
    conn.execute(
        "UPDATE runs r SET lifecycle_stage = 'active', deleted_time = NULL, lifecycle_order = %s"
        " FROM experiments e WHERE e.experiment_id = %s AND r.experiment_id = e.experiment_id"
        " AND e.lifecycle_stage = 'deleted' AND r.lifecycle_stage = 'deleted'"
        " AND r.deleted_time IS NOT DISTINCT FROM e.deleted_time AND r.lifecycle_order <= %s",
        (op.order, op.owner_id, op.order),
    )
