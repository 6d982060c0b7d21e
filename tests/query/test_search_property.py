"""Property tests: random filters over random runs agree with the Python reference."""

from __future__ import annotations

import math
import os
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import grpc
import psycopg
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.query.filter_reference import RefRun, insert_runs, matches, ordered, render
from tracklog.query.errors import InvalidArgument
from tracklog.query.filters.parser import parse_filter
from tracklog.query.filters.syntax import (
    NUMERIC_OPERATORS,
    STRING_OPERATORS,
    AllOf,
    AnyOf,
    Comparison,
    Expression,
    Identifier,
    OrderKey,
)
from tracklog.v1 import query_pb2, query_pb2_grpc

T0 = datetime(2024, 5, 1, tzinfo=UTC)
TIMES_MS = [0, 1, 999, 1000, 5000]
TEXT = st.text(alphabet="aAb_%\\'\" .0", max_size=4)
METRIC_VALUES = [-1.0, 0.0, 0.5, 1.0, 2.5, math.nan, math.inf, -math.inf]
METRIC_LITERALS = ["-1", "0", "0.5", "1", "2.5", "1e999", "-1e999"]
PROPERTY = settings(
    max_examples=int(os.environ.get("TRACKLOG_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def run_specs(draw: st.DrawFn, experiment_id: str, index: int) -> RefRun:
    start = draw(st.none() | st.sampled_from(TIMES_MS))
    return RefRun(
        run_id=f"{experiment_id}-{index:02d}",
        experiment_id=experiment_id,
        status=draw(st.sampled_from(["RUNNING", "FINISHED", "FAILED"])),
        run_name=draw(TEXT),
        start_time=None
        if start is None
        else T0 + timedelta(milliseconds=start, microseconds=draw(st.integers(0, 999))),
        params=draw(st.dictionaries(st.sampled_from(["lr", "opt"]), TEXT)),
        tags=draw(st.dictionaries(st.sampled_from(["team", "a b"]), TEXT)),
        metrics=draw(
            st.dictionaries(st.sampled_from(["acc", "loss"]), st.sampled_from(METRIC_VALUES))
        ),
    )


IDENTIFIERS = [
    Identifier("metric", "acc"),
    Identifier("metric", "loss"),
    Identifier("param", "lr"),
    Identifier("param", "opt"),
    Identifier("tag", "team"),
    Identifier("tag", "a b"),
    Identifier("attribute", "status"),
    Identifier("attribute", "run_name"),
    Identifier("attribute", "start_time"),
]


def _scalar(draw: st.DrawFn, identifier: Identifier) -> Any:
    if identifier.kind == "metric":
        return Decimal(draw(st.sampled_from(METRIC_LITERALS)))
    if identifier.numeric:
        base_ms = int((T0 - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)
        return Decimal(base_ms + draw(st.sampled_from([*TIMES_MS, 2, 4999])))
    if identifier.key == "status":
        return draw(st.sampled_from(["RUNNING", "FINISHED", "KILLED"]))
    return draw(TEXT)


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    identifier = draw(st.sampled_from(IDENTIFIERS))
    operator = draw(st.sampled_from(NUMERIC_OPERATORS if identifier.numeric else STRING_OPERATORS))
    if operator in ("IS NULL", "IS NOT NULL"):
        return Comparison(identifier, operator, None)
    if operator in ("IN", "NOT IN"):
        size = draw(st.integers(1, 3))
        return Comparison(
            identifier, operator, tuple(_scalar(draw, identifier) for _ in range(size))
        )
    return Comparison(identifier, operator, _scalar(draw, identifier))


def _combine(children: st.SearchStrategy[Expression]) -> st.SearchStrategy[Expression]:
    items = st.lists(children, min_size=2, max_size=3).map(tuple)
    return items.map(AllOf) | items.map(AnyOf)


FILTERS = st.recursive(comparisons(), _combine, max_leaves=5)
ORDER_KEYS = st.lists(st.builds(OrderKey, st.sampled_from(IDENTIFIERS), st.booleans()), max_size=2)


def _search(stub: query_pb2_grpc.QueryServiceStub, **fields: Any) -> list[str]:
    ids: list[str] = []
    token = ""
    while True:
        reply = stub.SearchRuns(
            query_pb2.SearchRunsRequest(page_size=4, page_token=token, **fields), timeout=10
        )
        ids += [r.info.run_id for r in reply.runs]
        token = reply.next_page_token
        if not token:
            return ids


@PROPERTY
@given(data=st.data(), expression=FILTERS, order_by=ORDER_KEYS)
def test_random_filters_over_random_runs_match_the_reference(
    pg: psycopg.Connection[Any],
    stub: query_pb2_grpc.QueryServiceStub,
    data: st.DataObject,
    expression: Expression,
    order_by: list[OrderKey],
) -> None:
    experiment_id = uuid.uuid4().hex[:12]
    count = data.draw(st.integers(0, 10))
    runs = [data.draw(run_specs(experiment_id, i)) for i in range(count)]
    insert_runs(pg, runs)
    text = render(expression)
    order_text = [f"{k.identifier} {'ASC' if k.ascending else 'DESC'}" for k in order_by]
    fields = {"experiment_ids": [experiment_id], "filter": text, "order_by": order_text}
    try:
        parsed = parse_filter(text)
    except InvalidArgument:  # only a LIKE pattern ending in a lone backslash
        try:
            _search(stub, **fields)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            return
        raise AssertionError(f"{text!r} was accepted") from None
    assert parsed == expression
    want = ordered([r for r in runs if matches(expression, r)], order_by)
    event("some runs match" if want else "no run matches")
    assert _search(stub, **fields) == [r.run_id for r in want]


FRAGMENTS = [
    "metrics.acc", "params.lr", "tags.team", "status", "start_time", " ", " ", "=", "!=", ">",
    "<=", "'", '"', "`", "(", ")", ",", "AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL",
    "0.5", "-1", "'a%'", "'FINISHED'", "--", ";", "/*", "*/", "\\", "%", "\x00", "DROP TABLE runs",
]  # fmt: skip


def _fixed_runs(experiment_id: str) -> list[RefRun]:
    return [
        RefRun(
            run_id=f"{experiment_id}-{i}",
            experiment_id=experiment_id,
            status=["FINISHED", "FAILED", "RUNNING"][i % 3],
            start_time=None if i == 0 else T0 + timedelta(seconds=i),
            params={"lr": ["0.5", "a%", "-1"][i % 3]} if i % 4 else {},
            tags={"team": ["a", "A", "a%b"][i % 3]},
            metrics={"acc": [0.5, -1.0, math.nan, 2.0][i % 4]} if i != 3 else {},
        )
        for i in range(6)
    ]


@PROPERTY
@given(pieces=st.lists(st.sampled_from(FRAGMENTS), max_size=12))
def test_arbitrary_text_is_invalid_argument_or_the_reference_result(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub, pieces: list[str]
) -> None:
    text = "".join(pieces)
    experiment_id = uuid.uuid4().hex[:12]
    runs = _fixed_runs(experiment_id)
    insert_runs(pg, runs)
    fields = {"experiment_ids": [experiment_id], "filter": text}
    try:
        parsed = parse_filter(text)
    except InvalidArgument:
        try:
            _search(stub, **fields)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, text
            assert "filter: at position" in str(error.details())
            return
        raise AssertionError(f"{text!r} was accepted") from None
    want = ordered([r for r in runs if matches(parsed, r)], ())
    event("valid filter" if parsed is not None else "empty filter")
    assert _search(stub, **fields) == [r.run_id for r in want]
