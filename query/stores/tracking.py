"""Reads for the tracking calls: experiment search and the datasets runs used."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from psycopg import sql

from tracklog.query.auth.permissions import EXPERIMENT, readable
from tracklog.query.filters import experiments as experiment_filter
from tracklog.query.stores.postgres import Connection, Pool
from tracklog.query.stores.records import ExperimentRecord, KeyValue
from tracklog.v1 import tracking_pb2

_STAGES = {
    tracking_pb2.VIEW_TYPE_UNSPECIFIED: ("active",),
    tracking_pb2.VIEW_TYPE_ACTIVE_ONLY: ("active",),
    tracking_pb2.VIEW_TYPE_DELETED_ONLY: ("deleted",),
    tracking_pb2.VIEW_TYPE_ALL: ("active", "deleted"),
}


def search_experiments(
    pool: Pool,
    view_type: tracking_pb2.ViewType.ValueType,
    filter_text: str,
    order_by: list[str],
    offset: int,
    limit: int,
) -> tuple[list[ExperimentRecord], bool]:
    """Experiments matching the filter that the caller may read, in the requested order;
    (page, has_more)."""
    clauses, args = experiment_filter.parse_filter(filter_text)
    order = experiment_filter.parse_order_by(order_by)
    visible, visible_args = readable(EXPERIMENT, sql.SQL("e.experiment_id"))  # the caller's
    where = sql.SQL(" AND ").join([sql.SQL("e.lifecycle_stage = ANY(%s)"), *clauses, visible])
    query = sql.SQL(
        "SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage,"
        " e.creation_time FROM experiments e WHERE {} ORDER BY {} OFFSET %s LIMIT %s"
    ).format(where, order)
    stages = list(_STAGES.get(view_type, ("active",)))
    with pool.connection() as conn:
        rows = conn.execute(query, [stages, *args, *visible_args, offset, limit + 1]).fetchall()
        return _with_tags(conn, rows[:limit]), len(rows) > limit


def _with_tags(conn: Connection, rows: list[tuple[Any, ...]]) -> list[ExperimentRecord]:
    tags: defaultdict[str, list[KeyValue]] = defaultdict(list)
    for owner, key, value in conn.execute(
        "SELECT experiment_id, key, value FROM experiment_tags"
        " WHERE experiment_id = ANY(%s) ORDER BY experiment_id, key",
        ([row[0] for row in rows],),
    ):
        tags[owner].append(KeyValue(key, value))
    return [
        ExperimentRecord(id_, name, location, stage, created, tuple(tags.get(id_, ())))
        for id_, name, location, stage, created in rows
    ]


def dataset_summaries(
    pool: Pool, experiment_ids: list[str], limit: int
) -> list[tuple[str, str, str, str]]:
    """Distinct (experiment id, dataset name, digest, context) of the inputs of the runs of
    these experiments, deleted runs included (as MLflow's stores list them)."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT DISTINCT r.experiment_id, i.dataset_name, i.dataset_digest, i.context"
            " FROM run_inputs i JOIN runs r ON r.run_id = i.run_id"
            " WHERE r.experiment_id = ANY(%s) ORDER BY 1, 2, 3, 4 LIMIT %s",
            (experiment_ids, limit),
        ).fetchall()
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]
