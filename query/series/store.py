"""GetMetricSeries and CompareRuns, the ClickHouse part: per-series counts, short series
whole, and the reduced form of long ones, each in one grouped query for all series.

Long series are never read point by point: ClickHouse reduces them either with its
native `largestTriangleThreeBuckets` or into equal-width x buckets (the expression of
`series.bucket_of`) with count, x range, min, max, average, first and last point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tracklog.query.series.buckets import Axis, SeriesQuery
from tracklog.query.stores.clickhouse import ClickHouseMetricStore

Pair = tuple[str, str]

_VALUE_KEY = "isNaN(value), if(isNaN(value), 0., value + 0.)"
_IN_ORDER = {"optimize_aggregation_in_order": 1}


def _x(axis: Axis) -> str:
    return "step" if axis == "step" else "timestamp_ms"


def _order(axis: Axis) -> str:
    """Point order: x first, then the other coordinate, then the value (NaN last)."""
    first, second = ("step", "timestamp_ms") if axis == "step" else ("timestamp_ms", "step")
    return f"{first}, {second}, {_VALUE_KEY}"


@dataclass(frozen=True, slots=True)
class PointColumns:
    steps: np.ndarray[Any, np.dtype[np.int64]]
    timestamps_ms: np.ndarray[Any, np.dtype[np.int64]]
    values: np.ndarray[Any, np.dtype[np.float64]]


class ClickHouseSeriesStore:
    def __init__(self, metrics: ClickHouseMetricStore) -> None:
        self._metrics = metrics
        self._table = metrics.table

    def _where(self, query: SeriesQuery, parameters: dict[str, Any]) -> str:
        parameters |= {"runs": list(query.run_ids), "keys": list(query.keys)}
        where = " WHERE run_id IN {runs:Array(String)} AND key IN {keys:Array(String)}"
        if query.min_step is not None:
            where += " AND step >= {min_step:Int64}"
            parameters["min_step"] = query.min_step
        if query.max_step is not None:
            where += " AND step <= {max_step:Int64}"
            parameters["max_step"] = query.max_step
        return where

    def origins(self, run_ids: tuple[str, ...]) -> dict[str, int]:
        """Each run's first metric timestamp (any key): zero of the relative time axis."""
        statement = (
            f"SELECT run_id, min(timestamp_ms) FROM {self._table}"
            " WHERE run_id IN {runs:Array(String)} GROUP BY run_id"
        )
        columns = self._metrics.columns(statement, {"runs": list(run_ids)})
        return dict(zip(*columns, strict=True)) if columns else {}

    def points(
        self, query: SeriesQuery, pairs: list[Pair], finite: bool = False
    ) -> dict[Pair, PointColumns]:
        """Every point of these series (exact duplicates collapsed; NaN values left out
        when `finite`), in x order."""
        if not pairs:
            return {}
        parameters: dict[str, Any] = {"pairs": pairs}
        order = _order(query.axis)
        nan = " AND NOT isNaN(value)" if finite else ""
        statement = (
            f"SELECT run_id, key, step, timestamp_ms, any(value) FROM {self._table}"
            f"{self._where(query, parameters)}{nan}"
            " AND (run_id, key) IN {pairs:Array(Tuple(String, String))}"
            f" GROUP BY run_id, key, {order} ORDER BY run_id, key, {order}"
        )
        columns = self._metrics.columns(statement, parameters)
        if not columns:
            return {}
        runs, keys = columns[0], columns[1]
        steps = np.asarray(columns[2], dtype=np.int64)
        stamps = np.asarray(columns[3], dtype=np.int64)
        values = np.asarray(columns[4], dtype=np.float64)
        result: dict[Pair, PointColumns] = {}
        start = 0
        for end in range(1, len(runs) + 1):
            if end == len(runs) or runs[end] != runs[start] or keys[end] != keys[start]:
                part = slice(start, end)
                result[(runs[start], keys[start])] = PointColumns(
                    steps[part], stamps[part], values[part]
                )
                start = end
        return result

    def lttb(self, query: SeriesQuery, points: int) -> list[Any]:
        """ClickHouse's native LTTB over (x, value) of every requested series, NaN left out.

        Columns, one row per kept point in x order: run_id, key, count() of the series'
        non-NaN points, x, value. A series of at most `points` points comes back whole
        (duplicates included)."""
        parameters: dict[str, Any] = {"n": points}
        x = _x(query.axis)
        inner = (
            f"SELECT run_id, key, count() AS n_points,"
            f" largestTriangleThreeBuckets({{n:UInt64}})({x}, value) AS kept"
            f" FROM {self._table}{self._where(query, parameters)} AND NOT isNaN(value)"
            " GROUP BY run_id, key"
        )
        statement = f"SELECT run_id, key, n_points, p.1, p.2 FROM ({inner}) ARRAY JOIN kept AS p"
        return self._metrics.columns(statement, parameters, _IN_ORDER)

    def timestamps_at(
        self, query: SeriesQuery, kept: list[tuple[str, str, int, float]]
    ) -> dict[tuple[str, str, int, float], int]:
        """The timestamp of each kept (run, key, step, value) point (the earliest, if the
        same point was logged more than once)."""
        if not kept:
            return {}
        parameters: dict[str, Any] = {"kept": kept}
        statement = (
            f"SELECT run_id, key, step, value, min(timestamp_ms) FROM {self._table}"
            f"{self._where(query, parameters)}"
            " AND (run_id, key, step, value) IN {kept:Array(Tuple(String, String, Int64, Float64))}"
            " GROUP BY run_id, key, step, value"
        )
        columns = self._metrics.columns(statement, parameters)
        if not columns:
            return {}
        return {(r, k, s, v): t for r, k, s, v, t in zip(*columns, strict=True)}

    def counts(self, query: SeriesQuery) -> dict[Pair, tuple[int, float, float]]:
        """(count, smallest x, largest x) of every requested series that has points."""
        parameters: dict[str, Any] = {}
        x = _x(query.axis)
        statement = (
            f"SELECT run_id, key, count(), toFloat64(min({x})), toFloat64(max({x}))"
            f" FROM {self._table}{self._where(query, parameters)} GROUP BY run_id, key"
        )
        columns = self._metrics.columns(statement, parameters, _IN_ORDER)
        if not columns:
            return {}
        return {(r, k): (n, lo, hi) for r, k, n, lo, hi in zip(*columns, strict=True)}

    def min_max_avg(
        self, query: SeriesQuery, ranges: dict[Pair, tuple[float, float]], buckets: int
    ) -> list[Any]:
        """Equal-width x buckets of the given series (x ranges by series), ordered by
        (series, bucket). Columns: series index into `ranges` (0-based) * 16384 + bucket,
        count, x range, min, max, average (NaN ignored), then (other coordinate, value) of
        the series' first point (meaningful in its first bucket) and of its last point (in
        its last bucket), "other" being the timestamp on the step axis and the step on
        time axes. Grouped by one UInt64: much cheaper than by (run_id, key, bucket)."""
        pairs = list(ranges)
        parameters: dict[str, Any] = {
            "ids": [f"{run}\x00{key}" for run, key in pairs],
            "idx": list(range(1, len(pairs) + 1)),
            "los": [ranges[p][0] for p in pairs],
            "his": [ranges[p][1] for p in pairs],
            "nb": float(buckets),
        }
        where = self._where(query, parameters)
        x = _x(query.axis)
        other = "timestamp_ms" if x == "step" else "step"
        if len(query.keys) == 1:
            parameters["ids"] = [run for run, _ in pairs]
            series_id = "run_id"
        else:
            series_id = "concat(run_id, char(0), key)"
        statement = (
            "SELECT g, count(), min(fx), max(fx), min(value), max(value),"
            " avgIf(value, NOT isNaN(value)), minIf(other, fx = lo),"
            " argMinIf(value, other, fx = lo), maxIf(other, fx = hi),"
            " argMaxIf(value, other, fx = hi)"
            f" FROM (SELECT value, toFloat64({x}) AS fx, {other} AS other,"
            f" transform({series_id}, {{ids:Array(String)}}, {{idx:Array(UInt32)}},"
            " toUInt32(0)) AS s, {los:Array(Float64)}[s] AS lo, {his:Array(Float64)}[s] AS hi,"
            " toUInt64(s - 1) * 16384 + toUInt64(least(floor((fx - lo) * {nb:Float64}"
            " / (hi - lo + 1)), {nb:Float64} - 1)) AS g"
            f" FROM {self._table}{where} AND s > 0)"
            " GROUP BY g ORDER BY g"
        )
        return self._metrics.columns(statement, parameters)

    def value_ranges(self, run_ids: list[str]) -> dict[Pair, tuple[float, float]]:
        """(min, max) value of every metric of these runs (NaN ignored): one grouped query."""
        statement = (
            f"SELECT run_id, key, min(value), max(value) FROM {self._table}"
            " WHERE run_id IN {runs:Array(String)} GROUP BY run_id, key"
        )
        columns = self._metrics.columns(statement, {"runs": run_ids}, _IN_ORDER)
        if not columns:
            return {}
        return {(r, k): (lo, hi) for r, k, lo, hi in zip(*columns, strict=True)}
