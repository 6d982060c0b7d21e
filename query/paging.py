"""Page sizes and opaque page tokens.

A page token is URL-safe base64 (no padding) of a small JSON document:
`{"k": kind, "s": scope, "c": cursor}`. `kind` names the listing the token came
from, `scope` fingerprints the query it belongs to (a token from another query
is rejected instead of silently skipping rows) and `cursor` is the keyset
position of the last row returned. Anything that does not decode is an
`InvalidArgument`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tracklog.query.errors import InvalidArgument
from tracklog.query.stores.records import (
    ExperimentCursor,
    LoggedModelCursor,
    PointCursor,
    RunCursor,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def page_size(requested: int, *, default: int, maximum: int, field: str = "page_size") -> int:
    """The page size to use: `default` for 0, an error (naming the request's `field`) when
    negative or above `maximum`."""
    if requested < 0:
        raise InvalidArgument(f"{field} must not be negative, got {requested}")
    if requested > maximum:
        raise InvalidArgument(f"{field} must be at most {maximum}, got {requested}")
    return requested or default


def scope_of(*parts: object) -> str:
    """A short fingerprint of a query's identity (JSON-serialisable parts)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_token(kind: str, cursor: Sequence[Any], scope: str = "") -> str:
    document = {"k": kind, "s": scope, "c": list(cursor)}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_token(token: str, kind: str, scope: str = "") -> list[Any]:
    """The cursor inside a token made by `encode_token(kind, ..., scope)`."""
    try:
        padded = token + "=" * (-len(token) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error) as error:  # UnicodeError and JSONDecodeError included
        raise InvalidArgument(f"invalid page_token: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("c"), list):
        raise InvalidArgument("invalid page_token: not a page token")
    if document.get("k") != kind:
        raise InvalidArgument(f"invalid page_token: it does not come from the {kind} listing")
    if document.get("s") != scope:
        raise InvalidArgument("invalid page_token: it belongs to a different query")
    return list(document["c"])


def to_micros(moment: datetime) -> int:
    return (moment - EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def _field(cursor: list[Any], index: int, kinds: tuple[type, ...], what: str) -> Any:
    value = cursor[index]
    if isinstance(value, bool) and bool not in kinds:
        raise InvalidArgument(f"invalid page_token: {what} has the wrong type")
    if not isinstance(value, kinds):
        raise InvalidArgument(f"invalid page_token: {what} has the wrong type")
    return value


def _expect_length(cursor: list[Any], length: int) -> None:
    if len(cursor) != length:
        raise InvalidArgument("invalid page_token: malformed cursor")


def _micros_to_time(micros: int) -> datetime:
    try:
        return from_micros(micros)
    except OverflowError:
        raise InvalidArgument("invalid page_token: time out of range") from None


# --- one cursor kind per listing ---------------------------------------------------------

EXPERIMENTS = "experiments"
RUNS = "runs"
POINTS = "points"


def experiment_token(cursor: ExperimentCursor) -> str:
    return encode_token(EXPERIMENTS, [to_micros(cursor.creation_time), cursor.experiment_id])


def _time_and_id(token: str, kind: str, scope: str, what: str) -> tuple[datetime, str]:
    """The (creation time, id) cursor of a listing ordered by creation time."""
    cursor = decode_token(token, kind, scope)
    _expect_length(cursor, 2)
    micros = _field(cursor, 0, (int,), "creation time")
    return _micros_to_time(micros), _field(cursor, 1, (str,), what)


def experiment_cursor(token: str) -> ExperimentCursor:
    return ExperimentCursor(*_time_and_id(token, EXPERIMENTS, "", "experiment id"))


def run_token(cursor: RunCursor, scope: str) -> str:
    micros = None if cursor.start_time is None else to_micros(cursor.start_time)
    return encode_token(RUNS, [micros, cursor.run_id], scope)


def run_cursor(token: str, scope: str) -> RunCursor:
    cursor = decode_token(token, RUNS, scope)
    _expect_length(cursor, 2)
    micros = _field(cursor, 0, (int, type(None)), "start time")
    start = None if micros is None else _micros_to_time(micros)
    return RunCursor(start, _field(cursor, 1, (str,), "run id"))


def point_token(cursor: PointCursor, scope: str) -> str:
    fields = [cursor.step, cursor.timestamp_ms, int(cursor.is_nan), cursor.value]
    return encode_token(POINTS, fields, scope)


def point_cursor(token: str, scope: str) -> PointCursor:
    cursor = decode_token(token, POINTS, scope)
    _expect_length(cursor, 4)
    step = _field(cursor, 0, (int,), "step")
    timestamp_ms = _field(cursor, 1, (int,), "timestamp")
    is_nan = _field(cursor, 2, (int,), "NaN flag")
    value = float(_field(cursor, 3, (int, float), "value"))
    if is_nan not in (0, 1) or math.isnan(value):
        raise InvalidArgument("invalid page_token: malformed cursor")
    for number in (step, timestamp_ms):
        if not -(2**63) <= number < 2**63:
            raise InvalidArgument("invalid page_token: number out of range")
    return PointCursor(step, timestamp_ms, bool(is_nan), value)


LOGGED_MODELS = "logged-models"


def logged_model_token(cursor: LoggedModelCursor, scope: str) -> str:
    return encode_token(LOGGED_MODELS, [to_micros(cursor.creation_time), cursor.model_id], scope)


def logged_model_cursor(token: str, scope: str) -> LoggedModelCursor:
    return LoggedModelCursor(*_time_and_id(token, LOGGED_MODELS, scope, "model id"))


RUNS_BY_OFFSET = "runs-by-offset"
LOGGED_MODELS_BY_OFFSET = "logged-models-by-offset"


def run_offset_token(offset: int, scope: str) -> str:
    """The token of the next page of a search ordered by `order_by` (offset paging)."""
    return encode_token(RUNS_BY_OFFSET, [offset], scope)


def run_offset(token: str, scope: str) -> int:
    return _offset(token, RUNS_BY_OFFSET, scope)


def logged_model_offset_token(offset: int, scope: str) -> str:
    """The token of the next page of a logged-model search with an order_by."""
    return encode_token(LOGGED_MODELS_BY_OFFSET, [offset], scope)


def logged_model_offset(token: str, scope: str) -> int:
    return _offset(token, LOGGED_MODELS_BY_OFFSET, scope)


def _offset(token: str, kind: str, scope: str) -> int:
    cursor = decode_token(token, kind, scope)
    _expect_length(cursor, 1)
    offset = _field(cursor, 0, (int,), "offset")
    if not 0 <= offset < 2**62:
        raise InvalidArgument("invalid page_token: offset out of range")
    return int(offset)
