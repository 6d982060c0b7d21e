"""GetMetricHistory over a real server and channel, reading chDB."""

from __future__ import annotations

import math
import random
from typing import Any

import grpc
import psycopg

from tests.query.expect import rpc_error
from tests.query.rows import insert_points, insert_run
from tracklog.contract.settings import Settings
from tracklog.v1 import query_pb2, query_pb2_grpc

INVALID = grpc.StatusCode.INVALID_ARGUMENT
Point = tuple[int, int, float]


def _history(
    stub: query_pb2_grpc.QueryServiceStub,
    run_id: str,
    key: str,
    page_size: int = 0,
    columnar: bool = False,
) -> tuple[list[Point], list[int]]:
    """Every point of a metric, following page tokens; also the page lengths. `columnar`
    asks for the columns and checks that no MetricPoint comes (and the reverse)."""
    points: list[Point] = []
    sizes: list[int] = []
    token = ""
    while True:
        request = query_pb2.GetMetricHistoryRequest(
            run_id=run_id, metric_key=key, page_size=page_size, page_token=token, columnar=columnar
        )
        reply = stub.GetMetricHistory(request, timeout=30)
        assert reply.metric_key == key
        if columnar:
            assert not reply.points
            page = list(zip(reply.steps, reply.timestamps_ms, reply.values, strict=True))
        else:
            assert not (reply.steps or reply.timestamps_ms or reply.values)
            page = [(p.step, p.timestamp_ms, p.value) for p in reply.points]
        points += page
        sizes.append(len(page))
        token = reply.next_page_token
        if not token:
            return points, sizes


def _same(a: list[Point], b: list[Point]) -> bool:
    """Equal, with NaN equal to NaN."""
    return len(a) == len(b) and all(
        x[:2] == y[:2] and (x[2] == y[2] or (math.isnan(x[2]) and math.isnan(y[2])))
        for x, y in zip(a, b, strict=True)
    )


def test_a_25000_point_history_pages_through_every_point_once_in_order(
    settings: Settings,
    clickhouse_client: Any,
    pg: psycopg.Connection[Any],
    stub: query_pb2_grpc.QueryServiceStub,
) -> None:
    expected = [(step, 1_000 + step, step / 10) for step in range(25_000)]
    shuffled = expected[:]
    random.Random(7).shuffle(shuffled)
    database = settings.clickhouse_database
    for part in range(5):  # several inserts: several parts to merge at read time
        insert_points(clickhouse_client, database, "r1", "loss", shuffled[part::5], part * 10**6)
    insert_points(clickhouse_client, database, "r1", "acc", [(0, 0, 1.0)])
    insert_points(clickhouse_client, database, "r2", "loss", [(0, 0, 2.0)])
    points, sizes = _history(stub, "r1", "loss")
    assert points == expected
    assert sizes == [10_000, 10_000, 5_000]
    small_pages, sizes = _history(stub, "r1", "loss", page_size=4_999)
    assert small_pages == expected and len(sizes) == 6
    columns, sizes = _history(stub, "r1", "loss", page_size=4_999, columnar=True)
    assert columns == expected and len(sizes) == 6


def test_duplicates_collapse_and_nan_survives_in_step_timestamp_value_order(
    settings: Settings,
    clickhouse_client: Any,
    pg: psycopg.Connection[Any],
    stub: query_pb2_grpc.QueryServiceStub,
) -> None:
    nan, inf = math.nan, math.inf
    distinct: list[Point] = [
        (0, 5, -inf),
        (0, 5, -1.5),
        (0, 5, 0.0),
        (0, 5, 2.0),
        (0, 5, inf),
        (0, 5, nan),
        (0, 6, nan),
        (1, 0, 3.0),
        (1, 0, nan),
        (2, -4, 1.0),
    ]
    delivered = [*distinct, (0, 5, 2.0), (0, 5, nan), (0, 5, -0.0), (1, 0, nan), (2, -4, 1.0)]
    random.Random(3).shuffle(delivered)
    insert_points(clickhouse_client, settings.clickhouse_database, "r1", "m", delivered[:8])
    insert_points(clickhouse_client, settings.clickhouse_database, "r1", "m", delivered[8:], 100)
    whole, sizes = _history(stub, "r1", "m")
    assert _same(whole, distinct) and sizes == [len(distinct)]
    one_by_one, sizes = _history(stub, "r1", "m", page_size=1)
    assert _same(one_by_one, distinct) and len(sizes) == len(distinct)
    three, _ = _history(stub, "r1", "m", page_size=3)
    assert _same(three, distinct)
    for size in (0, 1, 3):
        columns, _ = _history(stub, "r1", "m", page_size=size, columnar=True)
        assert _same(columns, distinct)


def test_a_run_without_the_metric_has_an_empty_history(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    insert_run(pg, "r1", "e1")
    points, sizes = _history(stub, "r1", "never-logged")
    assert points == [] and sizes == [0]


def test_metric_history_errors(
    settings: Settings,
    clickhouse_client: Any,
    pg: psycopg.Connection[Any],
    stub: query_pb2_grpc.QueryServiceStub,
) -> None:
    insert_points(
        clickhouse_client, settings.clickhouse_database, "r1", "loss", [(0, 0, 1.0), (1, 1, 2.0)]
    )
    insert_points(
        clickhouse_client, settings.clickhouse_database, "r1", "acc", [(0, 0, 1.0), (1, 1, 2.0)]
    )
    call = stub.GetMetricHistory
    request = query_pb2.GetMetricHistoryRequest
    assert "run_id" in rpc_error(call, request(metric_key="loss"), INVALID)
    assert "metric_key" in rpc_error(call, request(run_id="r1"), INVALID)
    too_big = request(run_id="r1", metric_key="loss", page_size=100_001)
    assert "page_size must be at most 100000" in rpc_error(call, too_big, INVALID)
    negative = request(run_id="r1", metric_key="loss", page_size=-3)
    assert "negative" in rpc_error(call, negative, INVALID)
    garbage = request(run_id="r1", metric_key="loss", page_token="%%%")
    assert "page_token" in rpc_error(call, garbage, INVALID)
    loss_token = call(request(run_id="r1", metric_key="loss", page_size=1)).next_page_token
    other_metric = request(run_id="r1", metric_key="acc", page_token=loss_token)
    assert "different query" in rpc_error(call, other_metric, INVALID)
    unknown_run = request(run_id="no-such-run", metric_key="loss")
    assert "'no-such-run'" in rpc_error(call, unknown_run, grpc.StatusCode.NOT_FOUND)
