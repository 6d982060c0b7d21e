"""Validate gRPC requests into typed queries (pure: no I/O).

Every rule a request must satisfy lives here, so the servicer only wires
parsing, a store call and conversion together.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracklog.query import paging
from tracklog.query.errors import InvalidArgument
from tracklog.query.filters.parser import parse_filter, parse_order_by
from tracklog.query.stores.records import (
    ExperimentCursor,
    KeyValue,
    MetricHistoryQuery,
    RunSearch,
)
from tracklog.v1 import events_pb2, query_pb2, tracking_pb2

EXPERIMENTS_PAGE = (100, 1000)  # (default, maximum)
RUNS_PAGE = (1000, 50_000)
POINTS_PAGE = (10_000, 100_000)

_STATUS_PREFIX = "RUN_STATUS_"


@dataclass(frozen=True, slots=True)
class ExperimentSelector:
    """Exactly one of the two is set."""

    experiment_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ExperimentPage:
    limit: int
    after: ExperimentCursor | None


def experiment_selector(request: query_pb2.GetExperimentRequest) -> ExperimentSelector:
    which = request.WhichOneof("selector")
    if which == "experiment_id":
        if not request.experiment_id:
            raise InvalidArgument("experiment_id must not be empty")
        return ExperimentSelector(experiment_id=request.experiment_id)
    if which == "name":
        if not request.name:
            raise InvalidArgument("name must not be empty")
        return ExperimentSelector(name=request.name)
    raise InvalidArgument("one of experiment_id or name is required")


def experiment_page(request: query_pb2.ListExperimentsRequest) -> ExperimentPage:
    default, maximum = EXPERIMENTS_PAGE
    limit = paging.page_size(request.page_size, default=default, maximum=maximum)
    after = paging.experiment_cursor(request.page_token) if request.page_token else None
    return ExperimentPage(limit, after)


def run_id(request: query_pb2.GetRunRequest) -> str:
    if not request.run_id:
        raise InvalidArgument("run_id is required")
    return request.run_id


def status_name(status: events_pb2.RunStatus.ValueType) -> str:
    """'FINISHED' for RUN_STATUS_FINISHED, as the runs table stores it."""
    if status == events_pb2.RUN_STATUS_UNSPECIFIED:
        raise InvalidArgument("statuses must not contain RUN_STATUS_UNSPECIFIED")
    try:
        return events_pb2.RunStatus.Name(status).removeprefix(_STATUS_PREFIX)
    except ValueError:
        raise InvalidArgument(f"unknown run status {int(status)}") from None


def status_value(name: str) -> events_pb2.RunStatus.ValueType:
    """RUN_STATUS_FINISHED for 'FINISHED'; RUN_STATUS_UNSPECIFIED for anything unknown."""
    try:
        return events_pb2.RunStatus.Value(_STATUS_PREFIX + name)
    except ValueError:
        return events_pb2.RUN_STATUS_UNSPECIFIED


def run_search(request: query_pb2.SearchRunsRequest) -> tuple[RunSearch, str]:
    """The validated search and its scope (the fingerprint its page tokens carry)."""
    if not request.experiment_ids:
        raise InvalidArgument("experiment_ids must name at least one experiment")
    if any(not e for e in request.experiment_ids):
        raise InvalidArgument("experiment_ids must not contain an empty id")
    if request.start_time_order not in (
        query_pb2.SORT_ORDER_UNSPECIFIED,
        query_pb2.SORT_ORDER_ASCENDING,
        query_pb2.SORT_ORDER_DESCENDING,
    ):
        raise InvalidArgument(f"unknown start_time_order {int(request.start_time_order)}")
    default, maximum = RUNS_PAGE
    limit = paging.page_size(request.page_size, default=default, maximum=maximum)
    experiment_ids = tuple(sorted(set(request.experiment_ids)))
    statuses = tuple(sorted({status_name(s) for s in request.statuses}))
    params = tuple(KeyValue(k, v) for k, v in sorted(request.param_equals.items()))
    tags = tuple(KeyValue(k, v) for k, v in sorted(request.tag_equals.items()))
    ascending = request.start_time_order == query_pb2.SORT_ORDER_ASCENDING
    expression = parse_filter(request.filter)
    order_by = parse_order_by(list(request.order_by))
    stage = _lifecycle_stage(request.run_view_type)
    scope = paging.scope_of(
        experiment_ids,
        statuses,
        [[p.key, p.value] for p in params],
        [[t.key, t.value] for t in tags],
        ascending,
        repr(expression),
        repr(order_by),
        stage,
    )
    after, offset = None, 0
    if request.page_token and order_by:
        offset = paging.run_offset(request.page_token, scope)
    elif request.page_token:
        after = paging.run_cursor(request.page_token, scope)
    search = RunSearch(
        experiment_ids, statuses, params, tags, ascending, limit, after,
        expression, order_by, stage, offset,
    )  # fmt: skip
    return search, scope


_STAGES: dict[int, str | None] = {
    tracking_pb2.VIEW_TYPE_UNSPECIFIED: "active",
    tracking_pb2.VIEW_TYPE_ACTIVE_ONLY: "active",
    tracking_pb2.VIEW_TYPE_DELETED_ONLY: "deleted",
    tracking_pb2.VIEW_TYPE_ALL: None,
}


def _lifecycle_stage(view: tracking_pb2.ViewType.ValueType) -> str | None:
    """The lifecycle_stage a run view selects; None for all runs."""
    if view not in _STAGES:
        raise InvalidArgument(f"unknown run_view_type {int(view)}")
    return _STAGES[view]


def metric_history(request: query_pb2.GetMetricHistoryRequest) -> tuple[MetricHistoryQuery, str]:
    """The validated history query and its scope (the fingerprint its page tokens carry)."""
    if not request.run_id:
        raise InvalidArgument("run_id is required")
    if not request.metric_key:
        raise InvalidArgument("metric_key is required")
    default, maximum = POINTS_PAGE
    limit = paging.page_size(request.page_size, default=default, maximum=maximum)
    scope = paging.scope_of(request.run_id, request.metric_key)
    after = paging.point_cursor(request.page_token, scope) if request.page_token else None
    return MetricHistoryQuery(request.run_id, request.metric_key, limit, after), scope
