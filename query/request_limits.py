"""The query service's bounds on one request, enforced before any handler runs.

`check_request` is pure: a search's filter length and `order_by` entries (any request
message with a `filter` or `order_by` field: runs, experiments, logged models,
registered models and versions), GetMetricSeries' series (runs x keys) and points
(series x max_points) per response, and WaitFor's timeout and token positions.
`RequestLimits` is the gRPC server interceptor that applies it to every call of every
service and gates WaitFor: at most `max_concurrent_waits` wait at once (never more than
half the server's threads), so waits cannot take every thread and leave ordinary calls
queued; one more is refused at once.

A request over a limit is refused with the limit's value and its variable named:
INVALID_ARGUMENT for the shape of a request, RESOURCE_EXHAUSTED for the response
budget and busy waits. The gRPC message sizes (`QueryLimits.server_options`) and the
stores' time limits (Postgres `statement_timeout`, ClickHouse `max_execution_time`) are
set where the server and the stores are built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import Message

from tracklog.contract import flush_tokens
from tracklog.contract.settings import QueryLimits
from tracklog.query.errors import InvalidArgument, ResourceExhausted, status_code
from tracklog.query.series.buckets import DEFAULT_POINTS
from tracklog.v1 import series_pb2, tracking_pb2


def check_request(request: Message, limits: QueryLimits) -> None:
    """Raise InvalidArgument or ResourceExhausted when `request` asks for more than allowed."""
    fields = request.DESCRIPTOR.fields_by_name
    search: Any = request  # a search request: one with these fields
    if "filter" in fields:
        text = search.filter
        if isinstance(text, str) and len(text) > limits.max_filter_length:
            raise InvalidArgument(
                f"filter is {len(text)} characters long; the limit is"
                f" {limits.max_filter_length} (TRACKLOG_QUERY_MAX_FILTER_LENGTH)"
            )
    if "order_by" in fields:
        count = len(search.order_by)
        if count > limits.max_order_by:
            raise InvalidArgument(
                f"order_by has {count} entries; the limit is {limits.max_order_by}"
                " (TRACKLOG_QUERY_MAX_ORDER_BY)"
            )
    if isinstance(request, series_pb2.GetMetricSeriesRequest):
        _check_series(request, limits)
    elif isinstance(request, tracking_pb2.WaitForRequest):
        _check_wait(request, limits)


def _check_series(request: series_pb2.GetMetricSeriesRequest, limits: QueryLimits) -> None:
    series = len(set(request.run_ids)) * len(set(request.metric_keys))
    if series > limits.max_series:
        raise InvalidArgument(
            f"GetMetricSeries may ask for at most {limits.max_series} series (runs x metric"
            f" keys), got {series} (TRACKLOG_QUERY_MAX_SERIES)"
        )
    points = series * (request.max_points or DEFAULT_POINTS)
    if points > limits.max_series_points:
        raise ResourceExhausted(
            f"GetMetricSeries asks for up to {points} points ({series} series x max_points"
            f" {request.max_points or DEFAULT_POINTS}); the limit per response is"
            f" {limits.max_series_points} (TRACKLOG_QUERY_MAX_SERIES_POINTS): ask for fewer"
            " series or points"
        )


def _check_wait(request: tracking_pb2.WaitForRequest, limits: QueryLimits) -> None:
    if request.timeout_seconds > limits.max_wait_seconds:
        raise InvalidArgument(
            f"timeout_seconds is {request.timeout_seconds:g}; the limit is"
            f" {limits.max_wait_seconds:g} (TRACKLOG_QUERY_MAX_WAIT_SECONDS)"
        )
    try:
        positions = len(flush_tokens.decode(request.token))
    except ValueError:
        return  # the handler names what is wrong with the token
    if positions > limits.max_wait_positions:
        raise InvalidArgument(
            f"the token names {positions} positions; the limit is"
            f" {limits.max_wait_positions} (TRACKLOG_QUERY_MAX_WAIT_POSITIONS)"
        )


def concurrent_waits(limits: QueryLimits, server_threads: int) -> int:
    """How many WaitFor calls may wait at once: the setting, at most half the threads."""
    return max(1, min(limits.max_concurrent_waits, server_threads // 2))


class RequestLimits(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Checks every unary request against `QueryLimits` and bounds concurrent WaitFor calls."""

    def __init__(self, limits: QueryLimits, server_threads: int) -> None:
        self._limits = limits
        self._waits = concurrent_waits(limits, server_threads)
        self._wait_slots = threading.BoundedSemaphore(self._waits)

    def intercept_service(
        self, continuation: Callable[[Any], Any], handler_call_details: Any
    ) -> Any:
        handler = continuation(handler_call_details)
        if handler is None or handler.request_streaming:
            return handler
        gated = str(getattr(handler_call_details, "method", "")).endswith("/WaitFor")
        if handler.unary_unary is not None:
            behavior = self._bounded(handler.unary_unary, gated)
            wrap = grpc.unary_unary_rpc_method_handler
        elif handler.unary_stream is not None:
            behavior = self._bounded(handler.unary_stream, gated)
            wrap = grpc.unary_stream_rpc_method_handler
        else:  # pragma: no cover - a request-streaming handler returned above
            return handler
        return wrap(
            behavior,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _bounded(
        self, behavior: Callable[[Any, Any], Any], gated: bool
    ) -> Callable[[Any, Any], Any]:
        def bounded(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                check_request(request, self._limits)
            except (InvalidArgument, ResourceExhausted) as error:
                context.abort(status_code(error), str(error))
            if not gated:
                return behavior(request, context)
            if not self._wait_slots.acquire(blocking=False):
                busy = ResourceExhausted(
                    f"{self._waits} WaitFor calls are already waiting, the limit"
                    " (TRACKLOG_QUERY_MAX_CONCURRENT_WAITS, at most half the server's threads);"
                    " retry later"
                )
                context.abort(status_code(busy), str(busy))
            try:
                return behavior(request, context)
            finally:
                self._wait_slots.release()

        return bounded
