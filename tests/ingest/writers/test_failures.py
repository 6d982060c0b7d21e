"""Errors by kind: which exceptions pause and retry, which dead-letter, which crash."""

from __future__ import annotations

import psycopg
import psycopg_pool
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from clickhouse_connect.driver import exceptions as clickhouse_errors
from kafka.errors import KafkaConnectionError, KafkaTimeoutError

from tracklog.ingest.writers.failures import (
    DataRejected,
    StoreUnavailable,
    classify,
    is_data_error,
    is_unavailable,
    stage,
)

UNAVAILABLE = [
    psycopg.OperationalError("connection refused"),
    psycopg.InterfaceError("the connection is closed"),
    psycopg_pool.PoolTimeout("couldn't get a connection after 30 s"),
    clickhouse_errors.OperationalError("HTTP connection pool closed"),
    clickhouse_errors.StreamFailureError("stream cut short"),
    clickhouse_errors.DatabaseError("Table x.t does not exist. (UNKNOWN_TABLE)", code=60),
    clickhouse_errors.DatabaseError("Too many parts (TOO_MANY_PARTS)", code=252),
    ConnectionResetError("the response was lost"),
    TimeoutError("timed out"),
    OSError(28, "No space left on device"),
    KafkaTimeoutError("dead letter not acknowledged"),
    KafkaConnectionError("no broker"),
    EndpointConnectionError(endpoint_url="http://s3.local"),
    ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "PutObject"),
]
DATA = [
    psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
    psycopg.errors.NumericValueOutOfRange("value out of range"),
    psycopg.IntegrityError("duplicate key value"),
    psycopg.errors.UniqueViolation("duplicate key value"),
    clickhouse_errors.DataError("value out of range"),
    clickhouse_errors.DatabaseError("Cannot parse input (CANNOT_PARSE_TEXT)", code=6),
]
BUGS = [
    KeyError("run_id"),
    AttributeError("'NoneType' object has no attribute 'run_id'"),
    ValueError("invalid literal for int() with base 10: 'zz'"),  # a client serialising
    TypeError("unsupported operand"),
    UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    psycopg.ProgrammingError("syntax error at or near"),
    psycopg.errors.UndefinedTable('relation "runz" does not exist'),
    clickhouse_errors.ProgrammingError("Unknown setting"),
    clickhouse_errors.DatabaseError("Syntax error (SYNTAX_ERROR)", code=62),
    RuntimeError("anything else"),
]


@pytest.mark.parametrize("exc", UNAVAILABLE, ids=repr)
def test_a_store_that_cannot_answer_is_unavailable(exc: Exception) -> None:
    assert is_unavailable(exc) and not is_data_error(exc)
    failure = classify("postgres", exc)
    assert isinstance(failure, StoreUnavailable)
    assert (failure.stage, failure.cause) == ("postgres", exc)


@pytest.mark.parametrize("exc", DATA, ids=repr)
def test_rows_a_store_refuses_are_a_data_error(exc: Exception) -> None:
    assert is_data_error(exc) and not is_unavailable(exc)
    assert isinstance(classify("clickhouse", exc), DataRejected)


@pytest.mark.parametrize("exc", BUGS, ids=repr)
def test_anything_else_is_a_bug_and_stays_itself(exc: Exception) -> None:
    assert not is_unavailable(exc) and not is_data_error(exc)
    assert classify("postgres", exc) is exc


def test_stage_names_the_store_and_keeps_the_cause() -> None:
    def refuse() -> None:
        raise psycopg.OperationalError("connection refused")

    with pytest.raises(StoreUnavailable) as raised:
        stage("postgres", refuse)
    assert raised.value.stage == "postgres"
    assert isinstance(raised.value.__cause__, psycopg.OperationalError)


def test_stage_lets_a_bug_through_unchanged() -> None:
    def bug() -> None:
        raise KeyError("run_id")

    with pytest.raises(KeyError):
        stage("postgres", bug)


def test_an_inner_stage_keeps_its_name_through_an_outer_one() -> None:
    """A dead letter the broker does not acknowledge, inside the Postgres transaction."""

    def send() -> None:
        raise KafkaTimeoutError("no ack")

    with pytest.raises(StoreUnavailable) as raised:
        stage("postgres", lambda: stage("dead-letters", send))
    assert raised.value.stage == "dead-letters"


def test_stage_returns_what_the_work_returns() -> None:
    assert stage("clickhouse", lambda: 42) == 42
