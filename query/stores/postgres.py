"""The read-only Postgres pool, and reads of experiments (parameterized SQL only; a run with
its details is read by `run_rows`).

Each function takes a `psycopg_pool.ConnectionPool` and borrows one connection
for the whole call; the pool made by `open_pool` runs every call in a
read-only REPEATABLE READ transaction, so a run and its params, tags and
metrics come from one snapshot. Listing functions return `(rows, has_more)`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeAlias

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from tracklog.query.auth.permissions import EXPERIMENT, readable
from tracklog.query.errors import NotFound
from tracklog.query.stores.records import (
    ExperimentCursor,
    ExperimentRecord,
    KeyValue,
)

Connection: TypeAlias = psycopg.Connection[tuple[Any, ...]]
Pool: TypeAlias = ConnectionPool[Connection]


def open_pool(
    dsn: str, *, max_size: int = 16, timeout: float = 10.0, statement_timeout_ms: int = 0
) -> Pool:
    """A pool of read-only connections; opened without waiting for the server to answer.

    `statement_timeout_ms` (0: none) is each connection's Postgres statement_timeout:
    a longer query is cancelled (psycopg's QueryCanceled, RESOURCE_EXHAUSTED to clients).
    """

    def configure(conn: Connection) -> None:
        if statement_timeout_ms:
            conn.execute(
                "SELECT set_config('statement_timeout', %s, false)", (f"{statement_timeout_ms}ms",)
            )
            conn.commit()
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True

    return ConnectionPool(
        dsn,
        min_size=1,
        max_size=max_size,
        timeout=timeout,
        configure=configure,
        open=True,
        name="tracklog-query",
    )


# --- experiments -------------------------------------------------------------------------

_EXPERIMENT = sql.SQL(
    "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time FROM experiments"
)


def _experiment_tags(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[KeyValue, ...]]:
    rows = conn.execute(
        "SELECT experiment_id, key, value FROM experiment_tags"
        " WHERE experiment_id = ANY(%s) ORDER BY experiment_id, key",
        (list(ids),),
    ).fetchall()
    return group_pairs(rows)


def _experiments(conn: Connection, rows: list[tuple[Any, ...]]) -> list[ExperimentRecord]:
    tags = _experiment_tags(conn, [row[0] for row in rows])
    return [
        ExperimentRecord(id_, name, location, stage, created, tags.get(id_, ()))
        for id_, name, location, stage, created in rows
    ]


def get_experiment(
    pool: Pool, *, experiment_id: str | None = None, name: str | None = None
) -> ExperimentRecord:
    """The experiment with this id or (when no id is given) this name."""
    if experiment_id is not None:
        where, value, what = sql.SQL(" WHERE experiment_id = %s"), experiment_id, "id"
    elif name is not None:
        where, value, what = sql.SQL(" WHERE name = %s"), name, "name"
    else:
        raise ValueError("get_experiment needs an experiment_id or a name")
    with pool.connection() as conn:
        rows = conn.execute(_EXPERIMENT + where, (value,)).fetchall()
        if not rows:
            raise NotFound(f"experiment with {what} {value!r} not found")
        return _experiments(conn, rows)[0]


def list_experiments(
    pool: Pool, limit: int, after: ExperimentCursor | None
) -> tuple[list[ExperimentRecord], bool]:
    """Experiments the caller may read in (creation_time, experiment_id) order, after the
    cursor."""
    where, args = readable(EXPERIMENT, sql.SQL("experiments.experiment_id"))
    if after is not None:
        where += sql.SQL(" AND (creation_time, experiment_id) > (%s, %s)")
        args = [*args, after.creation_time, after.experiment_id]
    query = _EXPERIMENT + sql.SQL(" WHERE ") + where
    query += sql.SQL(" ORDER BY creation_time, experiment_id LIMIT %s")
    with pool.connection() as conn:
        rows = conn.execute(query, [*args, limit + 1]).fetchall()
        return _experiments(conn, rows[:limit]), len(rows) > limit


# --- runs --------------------------------------------------------------------------------


def group_pairs(rows: list[tuple[Any, ...]]) -> dict[str, tuple[KeyValue, ...]]:
    """(owner, key, value) rows, in order, as each owner's key-value pairs."""
    grouped: defaultdict[str, list[KeyValue]] = defaultdict(list)
    for owner, key, value in rows:
        grouped[owner].append(KeyValue(key, value))
    return {owner: tuple(pairs) for owner, pairs in grouped.items()}


def run_exists(pool: Pool, run_id: str) -> bool:
    with pool.connection() as conn:
        return (
            conn.execute("SELECT 1 FROM runs WHERE run_id = %s", (run_id,)).fetchone() is not None
        )
