"""GetMetricSeries: each mode in one grouped ClickHouse query for all series, short
series re-read whole, then the response built column-wise.

LTTB: ClickHouse's native `largestTriangleThreeBuckets` over (x, value), NaN values
left out. A series of at most `SHORT_FACTOR * max_points` points is also read whole
(exact duplicates collapsed) and returned whole when it has at most `max_points`
distinct points. Otherwise it is downsampled: only the x-axis coordinate comes back
(steps on the step axis, timestamps_ms on time axes), the other column stays empty.
With `with_timestamps` on the step axis, one more query reads the kept points'
timestamps (matched by run, key, step and value).
MIN_MAX_AVG: equal-width x buckets, each with count, x range, min, max and average.
A requested (run, key) with no point gives an empty series.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from tracklog.query.series.buckets import SeriesQuery
from tracklog.query.series.store import ClickHouseSeriesStore, Pair, PointColumns
from tracklog.v1 import series_pb2

SHORT_FACTOR = 4
# store.min_max_avg's group key: series index * BUCKET_STRIDE + bucket.
BUCKET_STRIDE = 16384


def get_metric_series(
    store: ClickHouseSeriesStore, query: SeriesQuery
) -> series_pb2.GetMetricSeriesResponse:
    origins = store.origins(query.run_ids) if query.axis == "relative_time" else {}
    if query.mode == "lttb":
        done = _lttb(store, query, origins)
    else:
        done = _min_max_avg(store, query, origins)
    response = series_pb2.GetMetricSeriesResponse()
    for pair in query.pairs:
        if pair in done:
            response.series.append(done[pair])
        else:
            response.series.add(run_id=pair[0], metric_key=pair[1])
    return response


def _segments(runs: list[str], keys: list[str]) -> list[tuple[Pair, int, int]]:
    """((run, key), start, end) of each run of equal (run, key) in result rows."""
    r, k = np.asarray(runs, dtype=object), np.asarray(keys, dtype=object)
    change = np.flatnonzero((r[1:] != r[:-1]) | (k[1:] != k[:-1])) + 1
    bounds = [0, *change.tolist(), len(runs)]
    return [((runs[start], keys[start]), start, end) for start, end in itertools.pairwise(bounds)]


def _point(
    query: SeriesQuery, step: int, stamp: int, value: float, origin: int
) -> series_pb2.SeriesPoint:
    x = float(step if query.axis == "step" else stamp) - origin
    return series_pb2.SeriesPoint(x=x, step=step, timestamp_ms=stamp, value=value)


def _whole(
    query: SeriesQuery, pair: Pair, cols: PointColumns, origin: int
) -> series_pb2.MetricSeries:
    steps, stamps, values = cols.steps.tolist(), cols.timestamps_ms.tolist(), cols.values.tolist()
    message = series_pb2.MetricSeries(
        run_id=pair[0],
        metric_key=pair[1],
        total_points=len(steps),
        first_point=_point(query, steps[0], stamps[0], values[0], origin),
        last_point=_point(query, steps[-1], stamps[-1], values[-1], origin),
    )
    x = cols.steps if query.axis == "step" else cols.timestamps_ms
    message.xs.extend((x.astype(np.float64) - origin).tolist())
    message.steps.extend(steps)
    message.timestamps_ms.extend(stamps)
    message.values.extend(values)
    return message


def _lttb(
    store: ClickHouseSeriesStore, query: SeriesQuery, origins: dict[str, int]
) -> dict[Pair, series_pb2.MetricSeries]:
    columns = store.lttb(query, query.max_points)
    if not columns or not columns[0]:
        return {}
    runs, keys, counts, xs, ys = columns
    x_all = np.asarray(xs, dtype=np.float64)
    y_all = np.asarray(ys, dtype=np.float64)
    segments = _segments(runs, keys)
    short = [
        pair for pair, start, _ in segments if counts[start] <= SHORT_FACTOR * query.max_points
    ]
    whole = store.points(query, short, finite=True)
    result: dict[Pair, series_pb2.MetricSeries] = {}
    downsampled: list[tuple[Pair, Any, Any, int]] = []
    for pair, start, end in segments:
        origin = origins.get(pair[0], 0)
        cols = whole.get(pair)
        if cols is not None and len(cols.steps) <= query.max_points:
            result[pair] = _whole(query, pair, cols, origin)
            continue
        total = len(cols.steps) if cols is not None else int(counts[start])
        x, y = x_all[start:end], y_all[start:end]
        keep = np.r_[True, (x[1:] != x[:-1]) | (y[1:] != y[:-1])]  # exact repeats dropped
        downsampled.append((pair, x[keep], y[keep], total))
    stamps = _kept_timestamps(store, query, downsampled)
    for pair, x, y, total in downsampled:
        origin = origins.get(pair[0], 0)
        result[pair] = _downsampled(query, pair, x, y, origin, total, stamps)
    return result


Kept = dict[tuple[str, str, int, float], int]


def _kept_timestamps(
    store: ClickHouseSeriesStore, query: SeriesQuery, series: list[tuple[Pair, Any, Any, int]]
) -> Kept | None:
    """The kept points' timestamps when asked for (on the step axis), else None."""
    if not query.with_timestamps or query.axis != "step" or not series:
        return None
    kept = [
        (run, key, step, value)
        for (run, key), x, y, _ in series
        for step, value in zip(x.astype(np.int64).tolist(), y.tolist(), strict=True)
    ]
    return store.timestamps_at(query, kept)


def _downsampled(
    query: SeriesQuery, pair: Pair, x: Any, y: Any, origin: int, total: int, stamps: Kept | None
) -> series_pb2.MetricSeries:
    """A natively LTTB-downsampled series: (x, value), and timestamps when looked up."""
    coordinate = x.astype(np.int64).tolist()
    values = y.tolist()
    on_step = query.axis == "step"
    run, key = pair
    times = (
        [stamps.get((run, key, s, v), 0) for s, v in zip(coordinate, values, strict=True)]
        if stamps is not None
        else None
    )

    def point(i: int) -> series_pb2.SeriesPoint:
        if not on_step:
            return _point(query, 0, coordinate[i], values[i], origin)
        return _point(query, coordinate[i], times[i] if times else 0, values[i], origin)

    message = series_pb2.MetricSeries(
        run_id=pair[0],
        metric_key=pair[1],
        total_points=total,
        downsampled=True,
        first_point=point(0),
        last_point=point(-1),
    )
    message.xs.extend((x - origin).tolist())
    (message.steps if on_step else message.timestamps_ms).extend(coordinate)
    if times is not None:
        message.timestamps_ms.extend(times)
    message.values.extend(values)
    return message


def _min_max_avg(
    store: ClickHouseSeriesStore, query: SeriesQuery, origins: dict[str, int]
) -> dict[Pair, series_pb2.MetricSeries]:
    limit = query.max_points
    counts = store.counts(query)
    short = [pair for pair, (n, _, _) in counts.items() if n <= SHORT_FACTOR * limit]
    whole = store.points(query, short)
    result: dict[Pair, series_pb2.MetricSeries] = {}
    ranges: dict[Pair, tuple[float, float]] = {}
    for pair, (_, lo, hi) in counts.items():
        cols = whole.get(pair)
        if cols is not None and len(cols.steps) <= limit:
            result[pair] = _whole(query, pair, cols, origins.get(pair[0], 0))
        else:
            ranges[pair] = (lo, hi)
    if not ranges:
        return result
    columns = store.min_max_avg(query, ranges, limit)
    if not columns or not columns[0]:
        return result
    pairs = list(ranges)
    sid = np.asarray(columns[0], dtype=np.int64) // BUCKET_STRIDE
    bounds = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1], True]).tolist()
    for start, end in itertools.pairwise(bounds):
        pair = pairs[int(sid[start])]
        origin = origins.get(pair[0], 0)
        result[pair] = _buckets(query, pair, counts[pair][0], origin, columns, start, end)
    return result


def _buckets(
    query: SeriesQuery,
    pair: Pair,
    total: int,
    origin: int,
    columns: list[Any],
    start: int,
    end: int,
) -> series_pb2.MetricSeries:
    _, n, x_lo, x_hi, low, high, avg, o_first, v_first, o_last, v_last = columns
    last = end - 1
    on_step = query.axis == "step"

    def point(x: float, other: int, value: float) -> series_pb2.SeriesPoint:
        step, stamp = (int(x), other) if on_step else (other, int(x))
        return _point(query, step, stamp, value, origin)

    message = series_pb2.MetricSeries(
        run_id=pair[0],
        metric_key=pair[1],
        total_points=total,
        downsampled=True,
        bucketed=True,
        first_point=point(x_lo[start], o_first[start], v_first[start]),
        last_point=point(x_hi[last], o_last[last], v_last[last]),
    )
    part = slice(start, end)
    message.xs.extend((np.asarray(x_lo[part], dtype=np.float64) - origin).tolist())
    message.x_ends.extend((np.asarray(x_hi[part], dtype=np.float64) - origin).tolist())
    message.counts.extend(n[part])
    message.mins.extend(low[part])
    message.maxs.extend(high[part])
    message.avgs.extend(avg[part])
    return message
