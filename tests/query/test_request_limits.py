"""Each bound on one request (tracklog.query.request_limits), alone and through a real server:
the refusal's code, that it names the limit, and that a 4 MB filter is refused before any
parser sees it (how long that takes is a figure of tests/benchmarks/bench_search.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from tracklog.contract import flush_tokens
from tracklog.contract.settings import QueryLimits, Settings
from tracklog.query.errors import InvalidArgument, ResourceExhausted
from tracklog.query.filters import clauses as clause_filter
from tracklog.query.filters import lexer as filter_lexer
from tracklog.query.filters import parser as filter_parser
from tracklog.query.request_limits import check_request, concurrent_waits
from tracklog.query.server import create_server
from tracklog.v1 import (
    logged_models_pb2,
    query_pb2,
    query_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    series_pb2,
    tracking_pb2,
)

from .expect import rpc_error

LIMITS = QueryLimits()
FOUR_MB = 4_000_000


# --- the pure checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_type",
    [
        query_pb2.SearchRunsRequest,
        query_pb2.SearchExperimentsRequest,
        logged_models_pb2.SearchLoggedModelsRequest,
        registry_pb2.SearchRegisteredModelsRequest,
        registry_pb2.SearchModelVersionsRequest,
    ],
)
def test_every_search_filter_is_capped_by_length(request_type: Any) -> None:
    check_request(request_type(filter="x" * LIMITS.max_filter_length), LIMITS)
    with pytest.raises(InvalidArgument) as info:
        check_request(request_type(filter="x" * (LIMITS.max_filter_length + 1)), LIMITS)
    message = str(info.value)
    assert f"{LIMITS.max_filter_length + 1} characters" in message
    assert f"limit is {LIMITS.max_filter_length}" in message
    assert "TRACKLOG_QUERY_MAX_FILTER_LENGTH" in message


def test_order_by_entries_are_capped() -> None:
    limits = QueryLimits(max_order_by=2)
    check_request(query_pb2.SearchRunsRequest(order_by=["a", "b"]), limits)
    with pytest.raises(InvalidArgument, match=r"3 entries; the limit is 2 \(TRACKLOG_QUERY_MAX"):
        check_request(query_pb2.SearchRunsRequest(order_by=["a", "b", "c"]), limits)
    with pytest.raises(InvalidArgument, match="order_by has 3 entries"):
        check_request(query_pb2.SearchExperimentsRequest(order_by=["a", "b", "c"]), limits)
    ordered = [logged_models_pb2.LoggedModelOrder(field_name="name")] * 3
    with pytest.raises(InvalidArgument, match="order_by has 3 entries"):
        check_request(logged_models_pb2.SearchLoggedModelsRequest(order_by=ordered), limits)


def test_metric_series_are_capped_by_series_and_by_points() -> None:
    limits = QueryLimits(max_series=6, max_series_points=6 * 500)
    runs, keys = ["r1", "r2", "r3", "r1"], ["a", "b"]  # 3 distinct runs x 2 keys
    check_request(
        series_pb2.GetMetricSeriesRequest(run_ids=runs, metric_keys=keys, max_points=500), limits
    )
    with pytest.raises(
        InvalidArgument,
        match=r"at most 6 series \(runs x metric keys\), got 8 \(TRACKLOG_QUERY_MAX_SERIES\)",
    ):
        check_request(
            series_pb2.GetMetricSeriesRequest(run_ids=[*runs, "r4"], metric_keys=keys), limits
        )
    with pytest.raises(ResourceExhausted, match=r"up to 3006 points .* limit per response is 3000"):
        check_request(
            series_pb2.GetMetricSeriesRequest(run_ids=runs, metric_keys=keys, max_points=501),
            limits,
        )
    # max_points unset means 1000 per series
    with pytest.raises(ResourceExhausted, match="TRACKLOG_QUERY_MAX_SERIES_POINTS"):
        check_request(series_pb2.GetMetricSeriesRequest(run_ids=runs, metric_keys=keys), limits)


def test_wait_for_timeout_and_positions_are_capped() -> None:
    limits = QueryLimits(max_wait_seconds=60, max_wait_positions=2)
    two = flush_tokens.encode({("log", 0): 5, ("log", 1): 5})
    three = flush_tokens.encode({("log", 0): 5, ("log", 1): 5, ("log", 2): 5})
    check_request(tracking_pb2.WaitForRequest(token=two, timeout_seconds=60), limits)
    with pytest.raises(InvalidArgument, match=r"timeout_seconds is 61; the limit is 60"):
        check_request(tracking_pb2.WaitForRequest(token=two, timeout_seconds=61), limits)
    with pytest.raises(InvalidArgument, match=r"3 positions; the limit is 2 \(TRACKLOG_QUERY"):
        check_request(tracking_pb2.WaitForRequest(token=three), limits)
    # a malformed token is left to the handler, which says what is wrong with it
    check_request(tracking_pb2.WaitForRequest(token="{nope"), limits)


def test_concurrent_waits_never_take_more_than_half_the_threads() -> None:
    assert concurrent_waits(QueryLimits(max_concurrent_waits=4), 16) == 4
    assert concurrent_waits(QueryLimits(max_concurrent_waits=4), 4) == 2
    assert concurrent_waits(QueryLimits(max_concurrent_waits=4), 1) == 1


def test_limits_are_read_from_the_environment() -> None:
    env = {
        "TRACKLOG_QUERY_MAX_FILTER_LENGTH": "100",
        "TRACKLOG_QUERY_MAX_ORDER_BY": "3",
        "TRACKLOG_QUERY_MAX_SERIES": "7",
        "TRACKLOG_QUERY_MAX_SERIES_POINTS": "70",
        "TRACKLOG_QUERY_STATEMENT_TIMEOUT_MS": "1500",
        "TRACKLOG_QUERY_CLICKHOUSE_MAX_EXECUTION_SECONDS": "2.5",
        "TRACKLOG_QUERY_MAX_WAIT_SECONDS": "30",
        "TRACKLOG_QUERY_MAX_WAIT_POSITIONS": "9",
        "TRACKLOG_QUERY_MAX_CONCURRENT_WAITS": "2",
        "TRACKLOG_GRPC_MAX_REQUEST_BYTES": "1000",
        "TRACKLOG_GRPC_MAX_RESPONSE_BYTES": "2000",
    }
    assert QueryLimits.from_env(env) == QueryLimits(
        100, 3, 7, 70, 1500, 2.5, 30.0, 9, 2, 1000, 2000
    )
    assert QueryLimits.from_env({}) == QueryLimits()
    with pytest.raises(ValueError, match="max_order_by must not be negative"):
        QueryLimits.from_env({"TRACKLOG_QUERY_MAX_ORDER_BY": "-1"})


# --- through a real server -----------------------------------------------------------------


@pytest.fixture
def limited(settings: Settings, clickhouse_client: Any, schemas: None) -> Iterator[grpc.Channel]:
    """A server with the default limits but two concurrent waits, and a channel to it."""
    limits = QueryLimits(max_concurrent_waits=2)
    server, port = create_server(
        "127.0.0.1:0", settings, clickhouse_client, max_workers=8, limits=limits
    )
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        server.stop(None).wait(10)


@pytest.fixture
def tokenized(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The lengths of the filters the tokenizers are handed (the run filter language's and
    the clause filter's, which experiments and logged models use)."""
    lengths: list[int] = []

    def spy(tokenize: Callable[..., Any]) -> Callable[..., Any]:
        def counted(text: str, *args: Any) -> Any:
            lengths.append(len(text))
            return tokenize(text, *args)

        return counted

    monkeypatch.setattr(filter_parser, "tokenize", spy(filter_lexer.tokenize))
    monkeypatch.setattr(clause_filter, "_tokens", spy(clause_filter._tokens))
    return lengths


def test_a_4mb_filter_is_refused_before_parsing_and_names_the_limit(
    limited: grpc.Channel, tokenized: list[int]
) -> None:
    stub = query_pb2_grpc.QueryServiceStub(limited)
    clause = "params.lr = '0.1' AND "
    huge = (clause * (FOUR_MB // len(clause) + 1))[:FOUR_MB]
    details = rpc_error(
        stub.SearchRuns,
        query_pb2.SearchRunsRequest(experiment_ids=["0"], filter=huge),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert f"filter is {FOUR_MB} characters long; the limit is 65536" in details
    assert "TRACKLOG_QUERY_MAX_FILTER_LENGTH" in details
    experiments = query_pb2.SearchExperimentsRequest(filter="name = 'x' AND " * 5000)
    assert "limit is 65536" in rpc_error(
        stub.SearchExperiments, experiments, grpc.StatusCode.INVALID_ARGUMENT
    )
    registry = registry_pb2_grpc.RegistryServiceStub(limited)
    models = registry_pb2.SearchRegisteredModelsRequest(filter="name = 'x' AND " * 5000)
    assert "TRACKLOG_QUERY_MAX_FILTER_LENGTH" in rpc_error(
        registry.SearchRegisteredModels, models, grpc.StatusCode.INVALID_ARGUMENT
    )
    assert tokenized == []  # refused by the limits, before any tokenizer read the text
    # the spies are in place: filters within the limit reach the tokenizers
    stub.SearchRuns(query_pb2.SearchRunsRequest(experiment_ids=["0"], filter=clause[:-5]))
    stub.SearchExperiments(query_pb2.SearchExperimentsRequest(filter="name = 'x'"))
    assert tokenized == [len(clause) - 5, len("name = 'x'")]


def test_too_many_order_by_entries_are_refused(limited: grpc.Channel) -> None:
    stub = query_pb2_grpc.QueryServiceStub(limited)
    request = query_pb2.SearchRunsRequest(experiment_ids=["0"], order_by=["start_time"] * 11)
    details = rpc_error(stub.SearchRuns, request, grpc.StatusCode.INVALID_ARGUMENT)
    assert "order_by has 11 entries; the limit is 10 (TRACKLOG_QUERY_MAX_ORDER_BY)" in details
    request.ClearField("order_by")
    request.order_by.extend(["start_time"] * 10)
    assert list(stub.SearchRuns(request, timeout=10).runs) == []


def test_metric_series_over_the_caps_are_refused(limited: grpc.Channel) -> None:
    stub = query_pb2_grpc.QueryServiceStub(limited)
    runs = [f"run-{i}" for i in range(101)]
    too_many = series_pb2.GetMetricSeriesRequest(
        run_ids=runs, metric_keys=[f"k{i}" for i in range(10)]
    )
    details = rpc_error(stub.GetMetricSeries, too_many, grpc.StatusCode.INVALID_ARGUMENT)
    assert "at most 1000 series (runs x metric keys), got 1010" in details
    points = series_pb2.GetMetricSeriesRequest(
        run_ids=runs, metric_keys=["loss"], max_points=10_000
    )
    details = rpc_error(stub.GetMetricSeries, points, grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert "up to 1010000 points" in details and "limit per response is 1000000" in details


def test_wait_for_over_the_caps_is_refused(limited: grpc.Channel) -> None:
    stub = query_pb2_grpc.QueryServiceStub(limited)
    long = tracking_pb2.WaitForRequest(token="", timeout_seconds=301)
    assert "limit is 300 (TRACKLOG_QUERY_MAX_WAIT_SECONDS)" in rpc_error(
        stub.WaitFor, long, grpc.StatusCode.INVALID_ARGUMENT
    )
    many = flush_tokens.encode({("log", p): 1 for p in range(1025)})
    details = rpc_error(
        stub.WaitFor, tracking_pb2.WaitForRequest(token=many), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "1025 positions; the limit is 1024" in details


def _never_applied(partition: int) -> str:
    return flush_tokens.encode({("tracklog.events.never", partition): 10**12})


def _wait(stub: query_pb2_grpc.QueryServiceStub, partition: int) -> Any:
    request = tracking_pb2.WaitForRequest(token=_never_applied(partition), timeout_seconds=60)
    return stub.WaitFor.future(request)


def _hold_both_slots(stub: query_pb2_grpc.QueryServiceStub) -> list[Any]:
    """Two waits that hold the server's two slots (a probe is refused), and never end."""
    waiting = [_wait(stub, p) for p in range(2)]
    probe = tracking_pb2.WaitForRequest(token=_never_applied(99), timeout_seconds=0.2)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # a probe may have taken a slot first, and a wait been refused: start it again
        waiting = [_wait(stub, p) if call.done() else call for p, call in enumerate(waiting)]
        time.sleep(0.2)
        with pytest.raises(grpc.RpcError) as info:
            stub.WaitFor(probe, timeout=10)
        error: Any = info.value
        if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and not any(
            call.done() for call in waiting
        ):
            return waiting
    for call in waiting:
        call.cancel()
    raise AssertionError("the two waits never held both slots")


def test_waits_beyond_the_cap_are_refused_and_never_block_ordinary_calls(
    limited: grpc.Channel,
) -> None:
    stub = query_pb2_grpc.QueryServiceStub(limited)
    waiting = _hold_both_slots(stub)
    try:
        # more waits than the server has threads (8): each is refused at once
        extra = [
            stub.WaitFor.future(
                tracking_pb2.WaitForRequest(token=_never_applied(p), timeout_seconds=60)
            )
            for p in range(2, 22)
        ]
        refused = 0
        for call in extra:
            with pytest.raises(grpc.RpcError) as info:
                call.result(timeout=20)
            error: Any = info.value
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
            assert "2 WaitFor calls are already waiting" in error.details()
            assert "TRACKLOG_QUERY_MAX_CONCURRENT_WAITS" in error.details()
            refused += 1
        assert refused == 20
        # ordinary calls still have threads and pool connections
        for _ in range(5):
            stub.ListExperiments(query_pb2.ListExperimentsRequest(), timeout=10)
            stub.GetServiceInfo(tracking_pb2.GetServiceInfoRequest(), timeout=10)
        assert not any(call.done() for call in waiting)
    finally:
        for call in waiting:
            call.cancel()
    # a cancelled wait frees its slot (the server notices the caller has gone)
    deadline = time.monotonic() + 20
    while True:
        try:
            stub.WaitFor(tracking_pb2.WaitForRequest(token=""), timeout=10)
            break
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, "cancelled waits kept their slots"
            time.sleep(0.05)
