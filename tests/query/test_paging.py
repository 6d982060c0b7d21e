"""Page sizes and page tokens (pure)."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracklog.query import paging
from tracklog.query.errors import InvalidArgument
from tracklog.query.stores.records import ExperimentCursor, PointCursor, RunCursor

MOMENT = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def raw_token(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def test_page_size_defaults_when_zero_and_rejects_out_of_range() -> None:
    assert paging.page_size(0, default=100, maximum=1000) == 100
    assert paging.page_size(1000, default=100, maximum=1000) == 1000
    assert paging.page_size(1, default=100, maximum=1000) == 1
    with pytest.raises(InvalidArgument, match="at most 1000"):
        paging.page_size(1001, default=100, maximum=1000)
    with pytest.raises(InvalidArgument, match="negative"):
        paging.page_size(-1, default=100, maximum=1000)


def test_experiment_cursor_round_trips() -> None:
    cursor = ExperimentCursor(MOMENT, "exp-1")
    assert paging.experiment_cursor(paging.experiment_token(cursor)) == cursor


@pytest.mark.parametrize("start", [MOMENT, None, datetime(1969, 12, 31, 23, 59, tzinfo=UTC)])
def test_run_cursor_round_trips(start: datetime | None) -> None:
    cursor = RunCursor(start, "run-ü")
    assert paging.run_cursor(paging.run_token(cursor, "scope"), "scope") == cursor


@given(
    step=st.integers(-(2**63), 2**63 - 1),
    timestamp_ms=st.integers(-(2**63), 2**63 - 1),
    value=st.floats(allow_nan=False),
)
def test_point_cursor_round_trips(step: int, timestamp_ms: int, value: float) -> None:
    cursor = PointCursor(step, timestamp_ms, False, value)
    decoded = paging.point_cursor(paging.point_token(cursor, "s"), "s")
    assert decoded == cursor
    assert math.copysign(1, decoded.value) == math.copysign(1, value)


def test_nan_cursor_round_trips() -> None:
    cursor = PointCursor(1, 2, True, 0.0)
    assert paging.point_cursor(paging.point_token(cursor, "s"), "s") == cursor


def test_tokens_are_url_safe_text() -> None:
    token = paging.run_token(RunCursor(MOMENT, "a/b+c?" * 10), "scope")
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize(
    "token",
    [
        "not base64 at all!",
        "%%%",
        "////",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        raw_token([1, 2]),
        raw_token({"k": "runs", "s": "scope"}),
        raw_token({"k": "runs", "s": "scope", "c": "x"}),
        raw_token({"k": "runs", "s": "scope", "c": [1]}),
        raw_token({"k": "runs", "s": "scope", "c": ["yesterday", "r"]}),
        raw_token({"k": "runs", "s": "scope", "c": [True, "r"]}),
        raw_token({"k": "runs", "s": "scope", "c": [1, 2]}),
        raw_token({"k": "runs", "s": "scope", "c": [10**30, "r"]}),
    ],
)
def test_bad_run_tokens_are_invalid_arguments(token: str) -> None:
    with pytest.raises(InvalidArgument, match="page_token"):
        paging.run_cursor(token, "scope")


def test_a_token_of_another_kind_or_query_is_rejected() -> None:
    experiments = paging.experiment_token(ExperimentCursor(MOMENT, "e"))
    with pytest.raises(InvalidArgument, match="does not come from the runs listing"):
        paging.run_cursor(experiments, "")
    runs = paging.run_token(RunCursor(MOMENT, "r"), "scope-a")
    with pytest.raises(InvalidArgument, match="different query"):
        paging.run_cursor(runs, "scope-b")


@pytest.mark.parametrize(
    "cursor",
    [
        [1, 2, 0, "1.0"],
        [1, 2, 2, 1.0],
        [1, 2, 0, math.nan],
        [2**63, 2, 0, 1.0],
        [1.5, 2, 0, 1.0],
        [1, 2, 0],
    ],
)
def test_bad_point_cursors_are_invalid_arguments(cursor: list[object]) -> None:
    token = raw_token({"k": "points", "s": "s", "c": cursor})
    with pytest.raises(InvalidArgument, match="page_token"):
        paging.point_cursor(token, "s")


def test_scope_depends_on_every_part_and_their_order() -> None:
    assert paging.scope_of("a", ["b"]) == paging.scope_of("a", ["b"])
    assert paging.scope_of("a", ["b"]) != paging.scope_of("a", ["c"])
    assert paging.scope_of("a", "b") != paging.scope_of("b", "a")
