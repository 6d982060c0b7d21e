"""MLflow's order_by and datasets of a logged-model search, as SQL over `logged_models m` (pure).

An order is a field and a direction, as MLflow's SqlAlchemyStore reads them: a model
attribute (`name`, `model_id`, `experiment_id`, `creation_timestamp` or `creation_time`,
`last_updated_timestamp`, `status` as MLflow numbers it, PENDING < READY < FAILED,
`model_type`, `source_run_id`, `status_message`, `artifact_location`,
`lifecycle_stage`, and MLflow's column names `creation_timestamp_ms` and
`last_updated_timestamp_ms`), or `metrics.<key>`: the model's latest point of that key
(newest timestamp, then highest step, then lowest run id), only among the points of a
dataset when the order names one. Missing values (no such metric; no model type,
source run or status message) sort last in either direction. Ties are broken as MLflow
does: by creation time, newest first, unless an order names it, then by model id.

`dataset_match` is the condition "a metric point is on one of the search's datasets"
(a name, and a digest unless it is empty) that `logged_model_filter` applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from tracklog.query.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class ModelOrder:
    field_name: str
    descending: bool = False
    dataset_name: str = ""  # metrics only: the points of this dataset
    dataset_digest: str = ""


@dataclass(frozen=True, slots=True)
class DatasetFilter:
    dataset_name: str
    dataset_digest: str = ""  # "": any digest


@dataclass(frozen=True, slots=True)
class OrderSql:
    joins: sql.Composable  # placed after FROM logged_models m
    join_args: list[Any]
    keys: sql.Composable  # the ORDER BY list


_STATUS_NUMBER = "CASE m.status WHEN 'PENDING' THEN 1 WHEN 'READY' THEN 2 WHEN 'FAILED' THEN 3 END"
_CREATION = "m.creation_time"
# field -> (expression, whether '' stands for MLflow's NULL)
_COLUMNS: dict[str, tuple[str, bool]] = {
    "model_id": ("m.model_id", False),
    "experiment_id": ("m.experiment_id", False),
    "name": ("m.name", False),
    "artifact_location": ("m.artifact_location", False),
    "creation_timestamp_ms": (_CREATION, False),
    "last_updated_timestamp_ms": ("m.last_updated_time", False),
    "status": (_STATUS_NUMBER, False),
    "lifecycle_stage": ("m.lifecycle_stage", False),
    "model_type": ("m.model_type", True),
    "source_run_id": ("m.source_run_id", True),
    "status_message": ("m.status_message", True),
}
_ALIASES = {
    "creation_time": "creation_timestamp_ms",
    "creation_timestamp": "creation_timestamp_ms",
    "last_updated_timestamp": "last_updated_timestamp_ms",
}
_LATEST_POINT = (
    "LEFT JOIN LATERAL (SELECT x.value FROM logged_model_metrics x"
    " WHERE x.model_id = m.model_id AND x.key = %s{dataset}"
    " ORDER BY x.timestamp_ms DESC, x.step DESC, x.run_id, x.value LIMIT 1) {alias} ON TRUE"
)


def order_sql(orders: Sequence[ModelOrder]) -> OrderSql:
    """The joins and ORDER BY keys of `orders` with MLflow's tie-breaks; InvalidArgument
    (MLflow's words) for a field that is not a model attribute or a metric."""
    joins: list[sql.Composable] = []
    join_args: list[Any] = []
    keys: list[sql.Composable] = []
    named: set[str] = set()
    for index, order in enumerate(orders):
        direction = sql.SQL("DESC" if order.descending else "ASC")
        field = order.field_name
        if not field:
            raise InvalidArgument("Invalid order by field name: an order_by needs a field_name")
        if "." not in field:
            column = _ALIASES.get(field, field)
            if column not in _COLUMNS:
                raise InvalidArgument(f"Invalid order by field name: {field}")
            named.add(column)
            expression, empty_is_null = _COLUMNS[column]
            value = sql.SQL(expression)
            if empty_is_null:
                keys.append(sql.SQL("({} = '') ASC").format(value))
            keys.append(sql.SQL("{} {}").format(value, direction))
            continue
        entity, key = field.split(".", 1)
        if entity != "metrics" or not key:
            raise InvalidArgument(
                f"Invalid order by field name: {field}. Only metrics are supported."
            )
        alias = sql.Identifier(f"o{index}")
        dataset: list[sql.Composable] = []
        join_args.append(key)
        for column, wanted in (
            ("dataset_name", order.dataset_name),
            ("dataset_digest", order.dataset_digest),
        ):
            if wanted:
                dataset.append(sql.SQL(" AND x.{} = %s").format(sql.Identifier(column)))
                join_args.append(wanted)
        joins.append(sql.SQL(_LATEST_POINT).format(dataset=sql.Composed(dataset), alias=alias))
        keys.append(sql.SQL("({}.value IS NULL) ASC").format(alias))
        keys.append(sql.SQL("{}.value {}").format(alias, direction))
    if "creation_timestamp_ms" not in named:
        keys.append(sql.SQL(f"{_CREATION} DESC"))
    if "model_id" not in named:
        keys.append(sql.SQL("m.model_id ASC"))
    return OrderSql(sql.SQL(" ").join(joins), join_args, sql.SQL(", ").join(keys))


def dataset_match(
    alias: str, datasets: Sequence[DatasetFilter]
) -> tuple[sql.Composable, list[Any]]:
    """The condition "metric point `alias` is on one of `datasets`" and its arguments."""
    point = sql.Identifier(alias)
    alternatives: list[sql.Composable] = []
    args: list[Any] = []
    for dataset in datasets:
        if not dataset.dataset_name:
            raise InvalidArgument("`dataset_name` in the `datasets` clause must be specified.")
        if dataset.dataset_digest:
            alternatives.append(
                sql.SQL("({0}.dataset_name = %s AND {0}.dataset_digest = %s)").format(point)
            )
            args += [dataset.dataset_name, dataset.dataset_digest]
        else:
            alternatives.append(sql.SQL("{}.dataset_name = %s").format(point))
            args.append(dataset.dataset_name)
    return sql.SQL("({})").format(sql.SQL(" OR ").join(alternatives)), args
