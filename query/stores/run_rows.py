"""A run with its details in one statement: the select list SearchRuns and GetRun share.

Subqueries in the select list aggregate each run's params, tags and latest metrics into
per-run arrays sorted by key, and its dataset inputs into one JSON array. Postgres
evaluates such costly select-list expressions after a sort and a LIMIT, so a search
page's runs alone pay for them. Rows are read in binary: the arrays arrive typed, without
text parsing, and become `RunRow`s without one object per param, tag or metric.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from tracklog.query.errors import NotFound
from tracklog.query.stores.postgres import Pool
from tracklog.query.stores.records import RunRecord, RunRow

COLUMNS = sql.SQL(
    "SELECT r.run_id, r.experiment_id, r.run_name, r.parent_run_id, r.user_id, r.status,"
    " r.start_time, r.end_time, r.lifecycle_stage, r.artifact_uri"
)
# One record per run and table (keys and values sorted by key); (NULL, ...) when none.
DETAILS = sql.SQL(
    ", (SELECT row(array_agg(x.key ORDER BY x.key), array_agg(x.value ORDER BY x.key))"
    " FROM params x WHERE x.run_id = r.run_id)"
    ", (SELECT row(array_agg(x.key ORDER BY x.key), array_agg(x.value ORDER BY x.key))"
    " FROM tags x WHERE x.run_id = r.run_id)"
    ", (SELECT row(array_agg(x.key ORDER BY x.key), array_agg(x.value ORDER BY x.key),"
    " array_agg(x.timestamp_ms ORDER BY x.key), array_agg(x.step ORDER BY x.key))"
    " FROM latest_metrics x WHERE x.run_id = r.run_id)"
    ", (SELECT jsonb_agg(jsonb_build_array(i.dataset_name, i.dataset_digest, i.source_type,"
    " i.source, i.schema, i.profile, i.context, i.tags)"
    " ORDER BY i.dataset_name, i.dataset_digest, i.context)"
    " FROM run_inputs i WHERE i.run_id = r.run_id)"
)
FROM = sql.SQL(" FROM runs r")


def run_row(row: tuple[Any, ...]) -> RunRow:
    """A row of `COLUMNS` then `DETAILS` as a RunRow."""
    params, tags, metrics, inputs = row[10:]
    return RunRow(
        RunRecord(*row[:10]),
        params[0] or [],
        params[1] or [],
        tags[0] or [],
        tags[1] or [],
        metrics[0] or [],
        metrics[1] or [],
        metrics[2] or [],
        metrics[3] or [],
        inputs or [],
    )


def get_run(pool: Pool, run_id: str) -> RunRow:
    """The run (whatever its lifecycle stage) with its details; NotFound when unknown."""
    query = COLUMNS + DETAILS + FROM + sql.SQL(" WHERE r.run_id = %s")
    with pool.connection() as conn:
        row = conn.execute(query, (run_id,), binary=True).fetchone()
    if row is None:
        raise NotFound(f"run {run_id!r} not found")
    return run_row(row)
