"""What kind of failure a store's exception is: the one place that decides (STYLE.md 6).

- **Unavailable** (`StoreUnavailable`): the store cannot answer now - a refused or
  lost connection, a timeout, an exhausted pool, a ClickHouse server error that is
  not about the rows (a table detached, too many parts, a memory limit), a broker
  that does not acknowledge a dead letter, an archive that cannot be written. The
  worker pauses consumption and retries the batch; nothing is committed meanwhile.
- **Data** (`DataRejected`): the store refused these rows - psycopg's `DataError`
  and `IntegrityError`, clickhouse-connect's `DataError` or a server error whose
  code is about a value (`DATA_ERROR_CODES`). The records are isolated and
  dead-lettered (ingest/dead_letters/poison.py); the rest of the batch is applied.
- **Anything else** is a bug (a `KeyError` in a writer, a `ValueError` or
  `TypeError` the client raises for a value the projector should never make, an
  SQL syntax error): it propagates unchanged, the worker crashes, nothing is
  committed, and the restart replays the batch safely.

`stage(name, work)` runs one store call and raises the first two kinds as the
matching `StoreFailure`, naming the stage ("clickhouse", "postgres", ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import psycopg
import psycopg_pool
from clickhouse_connect.driver import exceptions as clickhouse_errors
from kafka.errors import KafkaError

T = TypeVar("T")

# ClickHouse error codes that mean "these values", not "this server" or "this query".
DATA_ERROR_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        190,  # SIZES_OF_ARRAYS_DONT_MATCH
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    }
)
# ClickHouse error codes that mean our query is wrong: a bug, never retried.
QUERY_BUG_CODES = frozenset(
    {
        42,  # NUMBER_OF_ARGUMENTS_DOESNT_MATCH
        46,  # UNKNOWN_FUNCTION
        47,  # UNKNOWN_IDENTIFIER
        62,  # SYNTAX_ERROR
    }
)

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,  # connection refused or lost, admin shutdown, deadlock
    psycopg.InterfaceError,  # a closed connection
    psycopg_pool.PoolTimeout,
    clickhouse_errors.OperationalError,  # network errors, a stream cut short
    ConnectionError,  # raw socket errors some clients let through
    TimeoutError,
    OSError,  # the archive's disk (full, unmounted) and sockets
    KafkaError,  # the dead-letter topic's broker
)
_DATA: tuple[type[BaseException], ...] = (
    psycopg.DataError,
    psycopg.IntegrityError,
    clickhouse_errors.DataError,
)


def _s3_errors() -> tuple[type[BaseException], ...]:
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # the s3 extra is not installed: no S3 archive either
        return ()
    return (BotoCoreError, ClientError)


_UNAVAILABLE += _s3_errors()


class StoreFailure(Exception):
    """A store call failed in a known way; `stage` names it (for logs and metrics)."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage}: {cause}")
        self.stage = stage
        self.cause = cause


class StoreUnavailable(StoreFailure):
    """The store cannot answer now: pause consumption, retry the batch, commit nothing."""


class DataRejected(StoreFailure):
    """The store refused the rows: isolate the records responsible and dead-letter them."""


def is_data_error(exc: BaseException) -> bool:
    if isinstance(exc, _DATA):
        return True
    return isinstance(exc, clickhouse_errors.DatabaseError) and exc.code in DATA_ERROR_CODES


def is_unavailable(exc: BaseException) -> bool:
    if is_data_error(exc):
        return False
    if isinstance(exc, clickhouse_errors.DatabaseError) and not isinstance(
        exc, clickhouse_errors.ProgrammingError
    ):  # the server answered, but not about the rows (UNKNOWN_TABLE while detached, ...)
        return exc.code not in QUERY_BUG_CODES
    return isinstance(exc, _UNAVAILABLE)


def classify(stage_name: str, exc: BaseException) -> BaseException:
    """The exception to raise for `exc`: a StoreFailure of its kind, or `exc` itself (a bug)."""
    if isinstance(exc, StoreFailure):
        return exc
    if is_data_error(exc):
        return DataRejected(stage_name, exc)
    if is_unavailable(exc):
        return StoreUnavailable(stage_name, exc)
    return exc


def stage(name: str, work: Callable[[], T]) -> T:
    """Run work; a store's exception becomes StoreUnavailable or DataRejected naming
    the stage, anything else propagates unchanged."""
    try:
        return work()
    except Exception as exc:
        failure = classify(name, exc)
        if failure is exc:
            raise
        raise failure from exc
