"""GetMetricSeries, CompareRuns and StreamMetricHistory over a real server and chDB."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

import grpc
import numpy as np
import psycopg
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.query.expect import rpc_error
from tests.query.rows import insert_experiment, insert_points, insert_run
from tracklog.contract.settings import Settings
from tracklog.query.series.buckets import bucket_of
from tracklog.v1 import query_pb2_grpc, series_pb2

Stub = query_pb2_grpc.QueryServiceStub
LTTB = series_pb2.DOWNSAMPLE_MODE_LTTB
MMA = series_pb2.DOWNSAMPLE_MODE_MIN_MAX_AVG
T0 = 1_700_000_000_000


def _series(stub: Stub, runs: list[str], keys: list[str], **fields: Any) -> list[Any]:
    request = series_pb2.GetMetricSeriesRequest(run_ids=runs, metric_keys=keys, **fields)
    return list(stub.GetMetricSeries(request, timeout=30).series)


def test_short_series_come_back_whole_with_duplicates_collapsed_in_request_order(
    settings: Settings, clickhouse_client: Any, pg: Any, stub: Stub
) -> None:
    db = settings.clickhouse_database
    points = [(s, T0 + s, s * 0.5) for s in range(10)]
    insert_points(clickhouse_client, db, "r1", "loss", points[::-1])
    insert_points(clickhouse_client, db, "r1", "loss", points[:3], 100)  # delivered twice
    insert_points(clickhouse_client, db, "r2", "loss", [(0, T0, 1.0)])
    got = _series(stub, ["r2", "r1", "nope"], ["loss", "acc"], max_points=10)
    assert [(s.run_id, s.metric_key) for s in got] == [
        ("r2", "loss"),
        ("r2", "acc"),
        ("r1", "loss"),
        ("r1", "acc"),
        ("nope", "loss"),
        ("nope", "acc"),
    ]
    whole = got[2]
    assert not whole.downsampled and whole.total_points == 10
    assert list(zip(whole.steps, whole.timestamps_ms, whole.values, strict=True)) == points
    assert list(whole.xs) == [float(s) for s in range(10)]
    assert len(got[1].xs) == 0 and not got[1].HasField("first_point")


def test_x_axes_and_step_range(
    settings: Settings, clickhouse_client: Any, pg: Any, stub: Stub
) -> None:
    db = settings.clickhouse_database
    insert_points(
        clickhouse_client, db, "r1", "loss", [(s, T0 + 10 * s, float(s)) for s in range(20)]
    )
    insert_points(clickhouse_client, db, "r1", "early", [(0, T0 - 500, 0.0)])
    wall = _series(stub, ["r1"], ["loss"], x_axis=series_pb2.SERIES_X_AXIS_WALL_TIME)[0]
    assert list(wall.xs) == [float(T0 + 10 * s) for s in range(20)]
    relative = _series(stub, ["r1"], ["loss"], x_axis=series_pb2.SERIES_X_AXIS_RELATIVE_TIME)[0]
    assert list(relative.xs) == [500.0 + 10 * s for s in range(20)]  # from the run's first point
    ranged = _series(stub, ["r1"], ["loss"], min_step=5, max_step=7)[0]
    assert list(ranged.steps) == [5, 6, 7] and ranged.total_points == 3
    assert (ranged.first_point.step, ranged.last_point.step) == (5, 7)


def test_errors_are_invalid_argument(stub: Stub) -> None:
    for fields, text in [
        ({"run_ids": [], "metric_keys": ["k"]}, "run_ids"),
        ({"run_ids": [f"r{i}" for i in range(1001)], "metric_keys": ["k"]}, "at most 1000"),
        ({"run_ids": ["r"], "metric_keys": []}, "metric_keys"),
        ({"run_ids": ["r"], "metric_keys": ["k"], "max_points": 20_000}, "max_points"),
        ({"run_ids": ["r"], "metric_keys": ["k"], "min_step": 3, "max_step": 1}, "min_step"),
    ]:
        request = series_pb2.GetMetricSeriesRequest(**fields)  # type: ignore[arg-type]
        assert text in rpc_error(stub.GetMetricSeries, request, grpc.StatusCode.INVALID_ARGUMENT)


series_strategy = st.lists(
    st.tuples(st.integers(0, 400), st.floats(-1e6, 1e6, allow_nan=False)), min_size=1, max_size=120
)


@hsettings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=series_strategy, max_points=st.integers(3, 12))
def test_downsampling_keeps_first_last_and_each_buckets_min_max(
    settings: Settings,
    clickhouse_client: Any,
    pg: Any,
    stub: Stub,
    raw: list[tuple[int, float]],
    max_points: int,
) -> None:
    run = uuid.uuid4().hex
    points = sorted({(step, T0 + i, value) for i, (step, value) in enumerate(raw)})
    insert_points(clickhouse_client, settings.clickhouse_database, run, "m", points)
    first, last = points[0], points[-1]
    buckets = _series(stub, [run], ["m"], max_points=max_points, mode=MMA)[0]
    lttb = _series(stub, [run], ["m"], max_points=max_points, mode=LTTB)[0]
    got = buckets
    assert (got.first_point.step, got.first_point.timestamp_ms, got.first_point.value) == first
    assert (got.last_point.step, got.last_point.timestamp_ms, got.last_point.value) == last
    if len(points) <= max_points:
        assert not buckets.downsampled and len(buckets.xs) == len(points)
        assert not lttb.downsampled and len(lttb.xs) == len(points)
        return
    # LTTB (native, step axis): actual (step, value) points, in step order, first and last
    # included, at most max_points; timestamps are not returned when downsampled.
    assert lttb.downsampled and not lttb.timestamps_ms
    kept = list(zip(lttb.steps, lttb.values, strict=True))
    assert kept[0] == (first[0], first[2]) and kept[-1] == (last[0], last[2])
    assert (lttb.first_point.step, lttb.first_point.value) == kept[0]
    assert (lttb.last_point.step, lttb.last_point.value) == kept[-1]
    assert len(kept) <= max_points and set(kept) <= {(p[0], p[2]) for p in points}
    assert list(lttb.steps) == sorted(lttb.steps)
    # with_timestamps: the same points, each with its own timestamp (the earliest logged)
    stamped = _series(stub, [run], ["m"], max_points=max_points, mode=LTTB, with_timestamps=True)
    timed = list(zip(stamped[0].steps, stamped[0].values, stamped[0].timestamps_ms, strict=True))
    assert [(step, value) for step, value, _ in timed] == kept
    for step, value, stamp in timed:
        assert stamp == min(t for s, t, v in points if (s, v) == (step, value))
    assert (stamped[0].first_point.timestamp_ms, stamped[0].last_point.timestamp_ms) == (
        timed[0][2],
        timed[-1][2],
    )
    # MIN_MAX_AVG: every bucket's count, x range, min, max and average.
    steps = np.array([p[0] for p in points], dtype=float)
    values = np.array([p[2] for p in points])
    which = bucket_of(steps, steps.min(), steps.max(), max_points)
    expected = [
        (
            int((which == b).sum()),
            steps[which == b].min(),
            steps[which == b].max(),
            values[which == b].min(),
            values[which == b].max(),
            values[which == b].mean(),
        )
        for b in sorted(set(which.tolist()))
    ]
    assert buckets.bucketed and len(buckets.xs) <= max_points
    got_rows = list(
        zip(
            buckets.counts,
            buckets.xs,
            buckets.x_ends,
            buckets.mins,
            buckets.maxs,
            buckets.avgs,
            strict=True,
        )
    )
    assert len(got_rows) == len(expected)
    for mine, theirs in zip(got_rows, expected, strict=True):
        assert mine[:5] == theirs[:5]
        assert math.isclose(mine[5], theirs[5], rel_tol=1e-9, abs_tol=1e-6)


def reference_lttb(
    points: list[tuple[int, int, float]], n_out: int
) -> list[tuple[int, int, float]]:
    """Standard LTTB (Steinarsson): equal-count buckets over the interior points."""
    if len(points) <= n_out:
        return points
    every = (len(points) - 2) / (n_out - 2)
    kept, a = [points[0]], 0
    for i in range(n_out - 2):
        start, end = int(i * every) + 1, int((i + 1) * every) + 1
        following = points[end : min(int((i + 2) * every) + 1, len(points) - 1)] or [points[-1]]
        cx = sum(p[0] for p in following) / len(following)
        cy = sum(p[2] for p in following) / len(following)
        ax, ay = points[a][0], points[a][2]
        areas = [
            abs((ax - cx) * (points[j][2] - ay) - (ax - points[j][0]) * (cy - ay))
            for j in range(start, end)
        ]
        a = start + areas.index(max(areas))
        kept.append(points[a])
    return [*kept, points[-1]]


def test_lttb_of_a_long_series_through_clickhouse(
    settings: Settings, clickhouse_client: Any, pg: Any, stub: Stub
) -> None:
    rng = np.random.default_rng(5)
    values = rng.standard_normal(20_000).cumsum()
    points = [(s, T0 + s, float(v)) for s, v in enumerate(values)]
    insert_points(clickhouse_client, settings.clickhouse_database, "r1", "m", points)
    got = _series(stub, ["r1"], ["m"], max_points=200)[0]
    kept = list(zip(got.steps, got.values, strict=True))
    assert got.downsampled and got.total_points == 20_000 and len(kept) == 200
    assert kept == [(s, v) for s, _, v in reference_lttb(points, 200)]
    assert list(got.xs) == [float(s) for s, _ in kept]


def test_compare_runs(
    settings: Settings, clickhouse_client: Any, pg: psycopg.Connection[Any], stub: Stub
) -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    insert_experiment(pg, "e1", "exp", now)
    insert_run(
        pg,
        "a",
        "e1",
        params={"lr": "0.1", "seed": "1", "opt": "adam"},
        metrics=[("loss", 0.5, T0 + 9, 9)],
    )
    insert_run(
        pg,
        "b",
        "e1",
        params={"lr": "0.2", "opt": "adam"},
        metrics=[("loss", 0.7, T0 + 4, 4), ("acc", 0.9, T0, 1)],
    )
    db = settings.clickhouse_database
    insert_points(
        clickhouse_client, db, "a", "loss", [(s, T0 + s, 1.0 - s / 10) for s in range(10)]
    )
    insert_points(clickhouse_client, db, "b", "loss", [(s, T0 + s, 2.0 + s) for s in range(5)])
    insert_points(clickhouse_client, db, "b", "acc", [(1, T0, 0.9)])
    reply = stub.CompareRuns(series_pb2.CompareRunsRequest(run_ids=["b", "a"]), timeout=10)
    assert list(reply.run_ids) == ["b", "a"]
    differ = {p.key: [(v.present, v.value) for v in p.values] for p in reply.differing_params}
    assert differ == {"lr": [(True, "0.2"), (True, "0.1")], "seed": [(False, ""), (True, "1")]}
    assert {p.key: [v.value for v in p.values] for p in reply.agreeing_params} == {
        "opt": ["adam", "adam"]
    }
    metrics = {m.key: list(m.values) for m in reply.metrics}
    b_loss, a_loss = metrics["loss"]
    assert (b_loss.last, b_loss.last_step, b_loss.min, b_loss.max) == (0.7, 4, 2.0, 6.0)
    assert (a_loss.last, a_loss.last_step, a_loss.min, a_loss.max) == (0.5, 9, 1.0 - 9 / 10, 1.0)
    assert metrics["acc"][0].present and not metrics["acc"][1].present
    details = rpc_error(
        stub.CompareRuns,
        series_pb2.CompareRunsRequest(run_ids=["a", "ghost"]),
        grpc.StatusCode.NOT_FOUND,
    )
    assert "ghost" in details
    rpc_error(stub.CompareRuns, series_pb2.CompareRunsRequest(), grpc.StatusCode.INVALID_ARGUMENT)


def test_stream_returns_every_point_once_in_order(
    settings: Settings, clickhouse_client: Any, pg: psycopg.Connection[Any], stub: Stub
) -> None:
    insert_experiment(pg, "e1", "exp", datetime(2024, 1, 1, tzinfo=UTC))
    insert_run(pg, "r1", "e1")
    points = [(s // 2, T0 + s, float(s % 7)) for s in range(12_345)]
    db = settings.clickhouse_database
    insert_points(clickhouse_client, db, "r1", "m", points[1::2])
    insert_points(clickhouse_client, db, "r1", "m", points[::2], 10**6)
    insert_points(clickhouse_client, db, "r1", "m", points[:50], 2 * 10**6)  # duplicates
    request = series_pb2.StreamMetricHistoryRequest(run_id="r1", metric_key="m", chunk_size=1000)
    chunks = list(stub.StreamMetricHistory(request, timeout=30))
    assert [len(c.steps) for c in chunks] == [1000] * 12 + [345]
    got = [p for c in chunks for p in zip(c.steps, c.timestamps_ms, c.values, strict=True)]
    assert got == points
    ghost = series_pb2.StreamMetricHistoryRequest(run_id="ghost", metric_key="m")
    with_error = rpc_error(
        lambda r, timeout: list(stub.StreamMetricHistory(r, timeout=timeout)),
        ghost,
        grpc.StatusCode.NOT_FOUND,
    )
    assert "ghost" in with_error


def test_several_keys_and_runs_at_once(
    settings: Settings, clickhouse_client: Any, pg: Any, stub: Stub
) -> None:
    db = settings.clickhouse_database
    expected = {}
    for run in ("r1", "r2"):
        for key, scale in (("a", 1.0), ("b", -2.0)):
            points = [(s, T0 + s, scale * ((s * 7919) % 101)) for s in range(300)]
            insert_points(clickhouse_client, db, run, key, points)
            expected[(run, key)] = points
    requested = (["r2", "r1"], ["b", "a"])
    for got in _series(stub, *requested, max_points=10, mode=MMA):
        points = expected[(got.run_id, got.metric_key)]
        assert got.bucketed and sum(got.counts) == 300 == got.total_points
        assert min(got.mins) == min(p[2] for p in points)
        assert max(got.maxs) == max(p[2] for p in points)
        assert (got.first_point.step, got.first_point.timestamp_ms, got.first_point.value) == (
            points[0]
        )
        assert (got.last_point.step, got.last_point.timestamp_ms, got.last_point.value) == (
            points[-1]
        )
    lttb = _series(stub, *requested, max_points=10)
    assert [(s.run_id, s.metric_key) for s in lttb] == [
        ("r2", "b"),
        ("r2", "a"),
        ("r1", "b"),
        ("r1", "a"),
    ]
    for got in lttb:
        points = expected[(got.run_id, got.metric_key)]
        reference = reference_lttb(points, 10)
        assert list(zip(got.steps, got.values, strict=True)) == [(s, v) for s, _, v in reference]
