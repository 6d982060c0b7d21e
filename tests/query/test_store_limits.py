"""The query service's time limits on its stores (Postgres statement_timeout, ClickHouse
max_execution_time) and the gRPC message sizes on both sides: each refusal's code and that
it names the limit."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import grpc
import psycopg
import pytest

from tracklog import TracklogClient
from tracklog.client.errors import TracklogError
from tracklog.contract import flush_tokens
from tracklog.contract.settings import QueryLimits, Settings
from tracklog.query.errors import ResourceExhausted, as_query_error
from tracklog.query.server import create_server
from tracklog.query.stores.clickhouse import ClickHouseMetricStore
from tracklog.query.stores.postgres import open_pool
from tracklog.query.stores.records import MetricHistoryQuery
from tracklog.v1 import query_pb2, query_pb2_grpc, tracking_pb2

from .expect import rpc_error
from .rows import insert_experiment

SLOW_CLICKHOUSE = "SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 1"


@contextmanager
def _server(settings: Settings, clickhouse: Any, limits: QueryLimits) -> Iterator[str]:
    server, port = create_server("127.0.0.1:0", settings, clickhouse, max_workers=4, limits=limits)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None).wait(10)


# --- Postgres statement_timeout ------------------------------------------------------------


def test_the_pool_sets_the_statement_timeout(settings: Settings) -> None:
    pool = open_pool(settings.postgres_dsn, max_size=1, statement_timeout_ms=1500)
    with pool, pool.connection() as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
        with pytest.raises(psycopg.errors.QueryCanceled) as info:
            conn.execute("SELECT pg_sleep(5)")
    mapped = as_query_error(info.value)
    assert isinstance(mapped, ResourceExhausted)
    assert "TRACKLOG_QUERY_STATEMENT_TIMEOUT_MS" in str(mapped)
    with open_pool(settings.postgres_dsn, max_size=1) as pool, pool.connection() as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)


def test_a_query_past_the_statement_timeout_is_resource_exhausted(
    settings: Settings, clickhouse_client: Any, pg: psycopg.Connection[Any]
) -> None:
    insert_experiment(pg, "1", "one", datetime(2026, 1, 1, tzinfo=UTC))
    limits = QueryLimits(statement_timeout_ms=300)
    with (
        _server(settings, clickhouse_client, limits) as address,
        grpc.insecure_channel(address) as channel,
        psycopg.connect(settings.postgres_dsn) as locker,
    ):
        stub = query_pb2_grpc.QueryServiceStub(channel)
        assert len(stub.ListExperiments(query_pb2.ListExperimentsRequest(), timeout=10).experiments)
        # another session holds the table: the read waits, and the timeout cancels it
        locker.execute("LOCK TABLE experiments IN ACCESS EXCLUSIVE MODE")
        details = rpc_error(
            stub.ListExperiments,
            query_pb2.ListExperimentsRequest(),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        )
        locker.rollback()
        assert "statement_timeout" in details
        assert "TRACKLOG_QUERY_STATEMENT_TIMEOUT_MS" in details
        # the connection is still usable afterwards
        assert len(stub.ListExperiments(query_pb2.ListExperimentsRequest(), timeout=10).experiments)


# --- ClickHouse max_execution_time ---------------------------------------------------------


def test_a_clickhouse_query_past_max_execution_time_is_resource_exhausted(
    settings: Settings, clickhouse_client: Any
) -> None:
    store = ClickHouseMetricStore(clickhouse_client, settings.clickhouse_database, 0.3)
    with pytest.raises(Exception) as info:
        store.columns(SLOW_CLICKHOUSE, {})
    mapped = as_query_error(info.value)  # type: ignore[arg-type]
    assert isinstance(mapped, ResourceExhausted), info.value
    assert "max_execution_time" in str(mapped)
    assert "TRACKLOG_QUERY_CLICKHOUSE_MAX_EXECUTION_SECONDS" in str(mapped)
    assert store.columns("SELECT 1", {}) == [[1]]  # the store still answers


class _Recording:
    """A clickhouse-connect client stand-in that records each query's settings."""

    def __init__(self) -> None:
        self.settings: list[dict[str, Any]] = []

    def query(self, statement: str, parameters: Any = None, settings: Any = None) -> Any:
        self.settings.append(dict(settings or {}))

        class Result:
            result_columns: tuple[Any, ...] = ()

        return Result()

    def query_np(self, statement: str, parameters: Any = None, settings: Any = None) -> Any:
        self.settings.append(dict(settings or {}))
        return ()  # no rows


def test_every_clickhouse_read_carries_max_execution_time() -> None:
    client = _Recording()
    store = ClickHouseMetricStore(client, "tracklog", 2.5)
    store.history(MetricHistoryQuery("run", "loss", 10))
    store.columns("SELECT 1", {}, {"optimize_aggregation_in_order": 1})
    store.columns("SELECT 1", {})
    assert [s["max_execution_time"] for s in client.settings] == [2.5, 2.5, 2.5]
    assert client.settings[1]["optimize_aggregation_in_order"] == 1
    unlimited = _Recording()
    ClickHouseMetricStore(unlimited, "tracklog").columns("SELECT 1", {})
    assert unlimited.settings == [{}]


# --- gRPC message sizes --------------------------------------------------------------------


def test_the_server_refuses_a_request_over_its_receive_limit(
    settings: Settings, clickhouse_client: Any, schemas: None
) -> None:
    limits = QueryLimits(max_request_bytes=10_000)
    with (
        _server(settings, clickhouse_client, limits) as address,
        grpc.insecure_channel(address) as channel,
    ):
        stub = query_pb2_grpc.QueryServiceStub(channel)
        request = query_pb2.SearchRunsRequest(experiment_ids=["0"], filter="x" * 20_000)
        details = rpc_error(stub.SearchRuns, request, grpc.StatusCode.RESOURCE_EXHAUSTED)
        assert "10000" in details
        request.filter = "status = 'RUNNING'"
        assert list(stub.SearchRuns(request, timeout=10).runs) == []


def _many_experiments(pg: psycopg.Connection[Any]) -> None:
    for i in range(60):
        insert_experiment(
            pg, str(i), f"experiment-{i:03d}-" + "x" * 40, datetime(2026, 1, 1, tzinfo=UTC)
        )


def test_the_server_refuses_to_send_a_response_over_its_send_limit(
    settings: Settings, clickhouse_client: Any, pg: psycopg.Connection[Any]
) -> None:
    _many_experiments(pg)
    limits = QueryLimits(max_response_bytes=2_000)
    with (
        _server(settings, clickhouse_client, limits) as address,
        grpc.insecure_channel(address) as channel,
    ):
        stub = query_pb2_grpc.QueryServiceStub(channel)
        details = rpc_error(
            stub.ListExperiments,
            query_pb2.ListExperimentsRequest(),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        )
        assert "larger than max" in details and "vs. 2000" in details  # gRPC's own words
        small = stub.ListExperiments(query_pb2.ListExperimentsRequest(page_size=5), timeout=10)
        assert len(small.experiments) == 5


def test_the_sdk_client_takes_its_message_limits_from_the_environment(
    settings: Settings,
    clickhouse_client: Any,
    pg: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _many_experiments(pg)
    with _server(settings, clickhouse_client, QueryLimits()) as address:
        monkeypatch.setenv("TRACKLOG_GRPC_MAX_RESPONSE_BYTES", "2000")
        with TracklogClient(address) as client:
            with pytest.raises(TracklogError) as info:
                client.query_now("ListExperiments", query_pb2.ListExperimentsRequest())
            assert info.value.code == "RESOURCE_EXHAUSTED"
        monkeypatch.setenv("TRACKLOG_GRPC_MAX_REQUEST_BYTES", "1000")
        monkeypatch.delenv("TRACKLOG_GRPC_MAX_RESPONSE_BYTES")
        with TracklogClient(address) as client:
            request = query_pb2.SearchRunsRequest(experiment_ids=["0"], filter="x" * 2000)
            with pytest.raises(TracklogError) as info:
                client.query_now("SearchRuns", request)
            assert info.value.code == "RESOURCE_EXHAUSTED"
            listed = client.query_now("ListExperiments", query_pb2.ListExperimentsRequest())
            assert len(listed.experiments) == 60


def test_the_sdk_channel_retries_a_wait_refused_for_want_of_a_slot() -> None:
    options = dict(QueryLimits().channel_options())
    config = json.loads(options["grpc.service_config"])["methodConfig"][0]
    assert config["name"] == [{"service": "tracklog.v1.QueryService", "method": "WaitFor"}]
    assert config["retryPolicy"]["retryableStatusCodes"] == ["RESOURCE_EXHAUSTED"]


def test_a_refused_wait_is_retried_until_a_slot_frees(
    settings: Settings, clickhouse_client: Any, schemas: None
) -> None:
    limits = QueryLimits(max_concurrent_waits=1)
    never = flush_tokens.encode({("tracklog.events.never", 0): 10**12})
    with (
        _server(settings, clickhouse_client, limits) as address,
        grpc.insecure_channel(address) as raw,
        TracklogClient(address) as client,
    ):
        stub = query_pb2_grpc.QueryServiceStub(raw)
        holding = tracking_pb2.WaitForRequest(token=never, timeout_seconds=60)
        holder: Any = stub.WaitFor.future(holding)
        try:
            # a plain channel (no retries) is refused once the one slot is held
            deadline = time.monotonic() + 20
            while True:
                assert time.monotonic() < deadline, "the holder never held the slot"
                if holder.done():  # the probe took the slot first: hold it again
                    holder = stub.WaitFor.future(holding)
                try:
                    stub.WaitFor(tracking_pb2.WaitForRequest(), timeout=10)
                except grpc.RpcError as error:
                    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
                    break
                time.sleep(0.05)
            release = threading.Timer(0.3, holder.cancel)
            release.start()
            client.wait_for("")  # refused at first, then retried by gRPC once the slot frees
            release.join()
        finally:
            holder.cancel()
