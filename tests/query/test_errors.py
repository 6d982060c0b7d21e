"""Domain errors and their status codes (pure)."""

from __future__ import annotations

import grpc
import psycopg
import psycopg_pool
import pytest

from tracklog.query.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
    as_query_error,
    status_code,
)
from tracklog.registry import errors as registry_errors


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFound("x"), grpc.StatusCode.NOT_FOUND),
        (InvalidArgument("x"), grpc.StatusCode.INVALID_ARGUMENT),
        (Unavailable("x"), grpc.StatusCode.UNAVAILABLE),
        (AlreadyExists("x"), grpc.StatusCode.ALREADY_EXISTS),
        (FailedPrecondition("x"), grpc.StatusCode.FAILED_PRECONDITION),
        (DeadlineExceeded("x"), grpc.StatusCode.DEADLINE_EXCEEDED),
    ],
)
def test_each_domain_error_has_its_code(error: Exception, code: grpc.StatusCode) -> None:
    mapped = as_query_error(error)
    assert mapped is error
    assert status_code(mapped) == code


def test_store_outages_are_unavailable_and_bugs_are_not_mapped() -> None:
    assert isinstance(as_query_error(psycopg.OperationalError("down")), Unavailable)
    assert isinstance(as_query_error(psycopg_pool.PoolTimeout("busy")), Unavailable)
    assert as_query_error(KeyError("bug")) is None


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (registry_errors.NotFound("m"), grpc.StatusCode.NOT_FOUND),
        (registry_errors.AlreadyExists("m"), grpc.StatusCode.ALREADY_EXISTS),
        (registry_errors.InvalidArgument("m"), grpc.StatusCode.INVALID_ARGUMENT),
        (registry_errors.FailedPrecondition("m"), grpc.StatusCode.FAILED_PRECONDITION),
    ],
)
def test_registry_rule_errors_keep_their_message_and_get_their_code(
    error: Exception, code: grpc.StatusCode
) -> None:
    mapped = as_query_error(error)
    assert mapped is not None and str(mapped) == "m"
    assert status_code(mapped) == code
