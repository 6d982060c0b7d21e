"""Domain errors of the query service and the one place that maps them to gRPC status codes.

Request parsing and the stores raise `NotFound`, `InvalidArgument`, `AlreadyExists`,
`FailedPrecondition`, `DeadlineExceeded`, `ResourceExhausted` or `Unavailable` (the
registry's rules raise tracklog.registry.errors, mapped to the same codes);
`translate_errors` wraps each servicer method and turns those (and the drivers'
connection failures and query timeouts) into `context.abort(code, message)`.
Anything else is a bug and surfaces as UNKNOWN, loudly logged by gRPC.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import grpc
import psycopg
import psycopg_pool

from tracklog.registry import errors as registry_errors


class QueryError(Exception):
    """Base of the errors a caller can act on; the message is sent to the client."""


class NotFound(QueryError):
    """The experiment, run or metric named in the request does not exist."""


class InvalidArgument(QueryError):
    """The request is malformed: a missing field, a bad page size or page token."""


class Unavailable(QueryError):
    """A store cannot be reached; the call may be retried."""


class AlreadyExists(QueryError):
    """The name is taken (e.g. a registered model)."""


class FailedPrecondition(QueryError):
    """Well-formed, but not allowed in the current state (e.g. a stage transition)."""


class DeadlineExceeded(QueryError):
    """A write was sent but not applied by the projection in time."""


class PermissionDenied(QueryError):
    """The caller may not ask for this (e.g. a backdated registry creation, admins only)."""


class ResourceExhausted(QueryError):
    """The request asks for more than a limit allows (the message names it), or its query
    ran past the store's time limit."""


_CODES: tuple[tuple[type[QueryError], grpc.StatusCode], ...] = (
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    (ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
)
_FROM_REGISTRY: dict[type[registry_errors.RegistryError], type[QueryError]] = {
    registry_errors.NotFound: NotFound,
    registry_errors.InvalidArgument: InvalidArgument,
    registry_errors.AlreadyExists: AlreadyExists,
    registry_errors.FailedPrecondition: FailedPrecondition,
    registry_errors.PermissionDenied: PermissionDenied,
}

# Driver errors that mean "the store is down or overloaded", not "the code is wrong".
_STORE_DOWN: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg_pool.PoolTimeout)


def status_code(error: QueryError) -> grpc.StatusCode:
    """The gRPC status code for a domain error."""
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.UNKNOWN


def as_query_error(error: Exception) -> QueryError | None:
    """The domain error an exception stands for, or None when it is a bug."""
    if isinstance(error, QueryError):
        return error
    if isinstance(error, registry_errors.RegistryError):
        kind = _FROM_REGISTRY.get(type(error))
        return None if kind is None else kind(str(error))
    timed_out = _query_timeout(error)
    if timed_out is not None:
        return timed_out
    if isinstance(error, _STORE_DOWN) or _is_clickhouse_connection_error(error):
        return Unavailable(f"store unavailable: {error}")
    return None


def _query_timeout(error: Exception) -> ResourceExhausted | None:
    """A query stopped by the query service's time limit on its store, naming the limit."""
    if isinstance(error, psycopg.errors.QueryCanceled):
        return ResourceExhausted(
            "the query ran past the Postgres statement_timeout of the query service"
            f" (TRACKLOG_QUERY_STATEMENT_TIMEOUT_MS): {_first_line(error)}; narrow the request"
        )
    if "TIMEOUT_EXCEEDED" in str(error) and _is_clickhouse_error(error):
        return ResourceExhausted(
            "the query ran past the ClickHouse max_execution_time of the query service"
            f" (TRACKLOG_QUERY_CLICKHOUSE_MAX_EXECUTION_SECONDS): {_first_line(error)};"
            " narrow the request"
        )
    return None


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__


def _is_clickhouse_error(error: Exception) -> bool:
    from clickhouse_connect.driver.exceptions import ClickHouseError

    return isinstance(error, ClickHouseError)


def _is_clickhouse_connection_error(error: Exception) -> bool:
    from clickhouse_connect.driver.exceptions import OperationalError

    return isinstance(error, OperationalError)


S = TypeVar("S")
Req = TypeVar("Req")
Resp = TypeVar("Resp")


def translate_errors(
    method: Callable[[S, Req, grpc.ServicerContext], Resp],
) -> Callable[[S, Req, grpc.ServicerContext], Resp]:
    """Wrap a unary servicer method: domain errors abort the call with their status code."""

    @functools.wraps(method)
    def wrapper(self: S, request: Req, context: grpc.ServicerContext) -> Resp:
        try:
            return method(self, request, context)
        except Exception as error:
            mapped = as_query_error(error)
            if mapped is None:
                raise
            context.abort(status_code(mapped), str(mapped))

    return wrapper
