"""Reads of MLflow 3's logged models from the Postgres read model (parameterized SQL only).

`get_logged_model` and `search_logged_models` answer `LoggedModel` messages with their
tags and params sorted by key, the stored status as a `LoggedModelStatus` and times in
milliseconds. The search lists active models newest first, (creation_time DESC,
model_id), and pages by keyset: its page token carries the last model's position. With
an order_by (`logged_model_order`) it pages by offset, as MLflow's store does. Either
token is fingerprinted by the experiments, the filter, the order and the datasets.
`run_models` lists the models a run produced and those it used as inputs, for GetRun.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import sql

from tracklog.contract import lifecycle_stages
from tracklog.query import convert, paging
from tracklog.query.filters import logged_model_order
from tracklog.query.filters import logged_models as logged_model_filter
from tracklog.query.filters.logged_model_order import DatasetFilter, ModelOrder
from tracklog.query.stores.postgres import Connection, Pool, group_pairs
from tracklog.query.stores.records import KeyValue, LoggedModelCursor
from tracklog.v1 import events_pb2, logged_models_pb2

_SELECT = sql.SQL(
    "SELECT m.model_id, m.experiment_id, m.name, m.source_run_id, m.model_type,"
    " m.artifact_location, m.status, m.status_message, m.lifecycle_stage, m.creation_time,"
    " m.last_updated_time FROM logged_models m"
)
_STATUS_PREFIX = "LOGGED_MODEL_STATUS_"


def status_value(name: str) -> events_pb2.LoggedModelStatus.ValueType:
    """LOGGED_MODEL_STATUS_READY for 'READY'; LOGGED_MODEL_STATUS_UNSPECIFIED if unknown."""
    try:
        return events_pb2.LoggedModelStatus.Value(_STATUS_PREFIX + name)
    except ValueError:
        return events_pb2.LOGGED_MODEL_STATUS_UNSPECIFIED


def _millis(moment: datetime) -> int:
    return paging.to_micros(moment) // 1000


def _model(
    row: tuple[Any, ...], tags: tuple[KeyValue, ...], params: tuple[KeyValue, ...]
) -> logged_models_pb2.LoggedModel:
    (model_id, experiment_id, name, source_run_id, model_type, location, status, message,
     stage, created, updated) = row  # fmt: skip
    return logged_models_pb2.LoggedModel(
        model_id=model_id,
        experiment_id=experiment_id,
        name=name,
        source_run_id=source_run_id,
        model_type=model_type,
        artifact_location=location,
        status=status_value(status),
        status_message=message,
        lifecycle_stage=lifecycle_stages.to_proto(stage),
        creation_time_ms=_millis(created),
        last_updated_time_ms=_millis(updated),
        tags=convert.tags(tags),
        params=convert.tags(params),
    )


def _models(conn: Connection, rows: list[tuple[Any, ...]]) -> list[logged_models_pb2.LoggedModel]:
    """The messages for `rows` of `_SELECT`, with tags, params and metric points: one query
    per table."""
    ids = [row[0] for row in rows]
    tags, params = (
        group_pairs(
            conn.execute(
                sql.SQL(
                    "SELECT model_id, key, value FROM {} WHERE model_id = ANY(%s)"
                    " ORDER BY model_id, key"
                ).format(sql.Identifier(table)),
                (ids,),
            ).fetchall()
        )
        for table in ("logged_model_tags", "logged_model_params")
    )
    models = [_model(row, tags.get(row[0], ()), params.get(row[0], ())) for row in rows]
    by_id = {model.model_id: model for model in models}
    points = conn.execute(
        "SELECT model_id, key, value, timestamp_ms, step, run_id, dataset_name, dataset_digest"
        " FROM logged_model_metrics WHERE model_id = ANY(%s)"
        " ORDER BY model_id, key, step, timestamp_ms, value",
        (ids,),
    ).fetchall()
    for model_id, key, value, timestamp_ms, step, run_id, name, digest in points:
        by_id[model_id].metrics.add(
            key=key,
            value=value,
            timestamp_ms=timestamp_ms,
            step=step,
            run_id=run_id,
            dataset_name=name,
            dataset_digest=digest,
        )
    return models


def get_logged_model(
    pool: Pool, model_id: str, allow_deleted: bool
) -> logged_models_pb2.LoggedModel | None:
    """The model with this id; None when there is none (or it is deleted, unless allowed)."""
    stages = ["active", "deleted"] if allow_deleted else ["active"]
    where = sql.SQL(" WHERE m.model_id = %s AND m.lifecycle_stage = ANY(%s)")
    with pool.connection() as conn:
        rows = conn.execute(_SELECT + where, (model_id, stages)).fetchall()
        return _models(conn, rows)[0] if rows else None


def search_scope(
    experiment_ids: Sequence[str],
    filter_text: str,
    orders: Sequence[ModelOrder] = (),
    datasets: Sequence[DatasetFilter] = (),
) -> str:
    """The fingerprint a search's page tokens carry: the query they belong to."""
    return paging.scope_of(
        sorted(set(experiment_ids)),
        filter_text,
        [[o.field_name, o.descending, o.dataset_name, o.dataset_digest] for o in orders],
        [[d.dataset_name, d.dataset_digest] for d in datasets],
    )


def search_logged_models(
    pool: Pool,
    experiment_ids: Sequence[str],
    filter_text: str,
    max_results: int,
    page_token: str,
    orders: Sequence[ModelOrder] = (),
    datasets: Sequence[DatasetFilter] = (),
) -> tuple[list[logged_models_pb2.LoggedModel], str]:
    """A page of the active models of these experiments that match the filter and have a
    metric on one of `datasets` (when given), in `orders` (newest first when none), and
    the token of the next page ('' after the last)."""
    clauses, args = logged_model_filter.parse_filter(filter_text, datasets)
    experiments = sorted(set(experiment_ids))
    order = logged_model_order.order_sql(orders)
    conditions = [
        sql.SQL("m.experiment_id = ANY(%s)"),
        sql.SQL("m.lifecycle_stage = 'active'"),
        *clauses,
    ]
    values: list[Any] = [*order.join_args, experiments, *args]
    scope = search_scope(experiments, filter_text, orders, datasets)
    offset = 0
    if orders:  # any order but the default pages by offset
        offset = paging.logged_model_offset(page_token, scope) if page_token else 0
    elif page_token:
        after = paging.logged_model_cursor(page_token, scope)
        conditions.append(
            sql.SQL("(m.creation_time < %s OR (m.creation_time = %s AND m.model_id > %s))")
        )
        values += [after.creation_time, after.creation_time, after.model_id]
    query = _SELECT + sql.SQL(" {} WHERE {} ORDER BY {} LIMIT %s OFFSET %s").format(
        order.joins, sql.SQL(" AND ").join(conditions), order.keys
    )
    with pool.connection() as conn:
        rows = conn.execute(query, [*values, max_results + 1, offset]).fetchall()
        models = _models(conn, rows[:max_results])
    if len(rows) <= max_results:
        return models, ""
    if orders:
        return models, paging.logged_model_offset_token(offset + max_results, scope)
    last = rows[max_results - 1]
    cursor = LoggedModelCursor(creation_time=last[9], model_id=last[0])
    return models, paging.logged_model_token(cursor, scope)


def run_models(
    pool: Pool, run_id: str
) -> tuple[list[logged_models_pb2.ModelOutput], list[logged_models_pb2.ModelInput]]:
    """The models the run produced, by step then model id, and the logged models it used
    as inputs, by model id."""
    with pool.connection() as conn:
        outputs = conn.execute(
            "SELECT model_id, step FROM run_outputs WHERE run_id = %s ORDER BY step, model_id",
            (run_id,),
        ).fetchall()
        inputs = conn.execute(
            "SELECT model_id FROM run_model_inputs WHERE run_id = %s ORDER BY model_id",
            (run_id,),
        ).fetchall()
    return (
        [logged_models_pb2.ModelOutput(model_id=model_id, step=step) for model_id, step in outputs],
        [logged_models_pb2.ModelInput(model_id=model_id) for (model_id,) in inputs],
    )
