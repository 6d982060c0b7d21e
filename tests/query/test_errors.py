"""Domain errors and their status codes (pure)."""

from __future__ import annotations

import grpc
import psycopg
import psycopg_pool
import pytest

from tracklog.query.errors import (
    InvalidArgument,
    NotFound,
    Unavailable,
    as_query_error,
    status_code,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFound("x"), grpc.StatusCode.NOT_FOUND),
        (InvalidArgument("x"), grpc.StatusCode.INVALID_ARGUMENT),
        (Unavailable("x"), grpc.StatusCode.UNAVAILABLE),
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
