"""The columns of one MetricsLogged batch as both projectors read them.

Values are stored as MLflow stores them (tracklog.contract.validation.metric_value):
NaN kept, +/-inf clamped to the largest finite double. "Latest" is the maximum
of (step, timestamp_ms, value) in Postgres' row order, where NaN is greater
than every number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tracklog.contract import validation
from tracklog.v1 import events_pb2 as pb

Point = tuple[int, int, float]  # (step, timestamp_ms, value)


@dataclass(frozen=True, slots=True)
class MetricColumns:
    keys: tuple[str, ...]
    steps: tuple[int, ...]
    timestamps_ms: tuple[int, ...]
    values: tuple[float, ...]


def metric_columns(event: pb.MetricsLogged) -> MetricColumns:
    values = tuple(event.values)
    total = sum(values)
    if not math.isfinite(total):  # cheap filter: only then look for inf point by point
        values = tuple(
            validation.metric_value(key, value) if math.isinf(value) else value
            for key, value in zip(event.keys, values, strict=True)
        )
    return MetricColumns(tuple(event.keys), tuple(event.steps), tuple(event.timestamps_ms), values)


def metric_order(point: Point) -> tuple[int, int, bool, float]:
    """Sort key matching Postgres' comparison of (step, timestamp_ms, value)."""
    step, timestamp_ms, value = point
    nan = math.isnan(value)
    return (step, timestamp_ms, nan, 0.0 if nan else value)


def later(a: Point, b: Point) -> Point:
    """The later of two points of one metric."""
    return a if metric_order(a) >= metric_order(b) else b


def latest_per_key(columns: MetricColumns) -> dict[str, Point]:
    """The latest point of each key, one pass over the batch."""
    best: dict[str, Point] = {}
    points = zip(columns.keys, columns.steps, columns.timestamps_ms, columns.values, strict=True)
    total = sum(columns.values)
    if math.isnan(total):  # NaN present (or inf - inf): use the exact, slower order
        for key, step, ts, value in points:
            current = best.get(key)
            point = (step, ts, value)
            best[key] = point if current is None else later(current, point)
        return best
    for key, step, ts, value in points:
        point = (step, ts, value)
        current = best.get(key)
        if current is None or point > current:
            best[key] = point
    return best
