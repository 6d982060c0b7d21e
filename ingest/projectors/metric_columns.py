"""The columns of one MetricsLogged batch as both projectors read them: numpy arrays,
no Python object per point.

Values are stored as MLflow stores them (tracklog.contract.validation.metric_value):
NaN kept, +/-inf clamped to the largest finite double. "Latest" is the maximum
of (step, timestamp_ms, value) in Postgres' row order, where NaN is greater
than every number.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tracklog.ingest.decode.metric_keys import Codes, key_codes
from tracklog.v1 import events_pb2 as pb

Point = tuple[int, int, float]  # (step, timestamp_ms, value)
Int64s = npt.NDArray[np.int64]
Float64s = npt.NDArray[np.float64]

_INT64_MIN = np.iinfo(np.int64).min


@dataclass(frozen=True, slots=True, eq=False)
class MetricColumns:
    """The points of one batch; point i's key is ``names[codes[i]]``."""

    names: tuple[str, ...]  # distinct keys, in order of first appearance
    codes: Codes
    steps: Int64s
    timestamps_ms: Int64s
    values: Float64s

    def __len__(self) -> int:
        return len(self.steps)

    def keys(self) -> tuple[str, ...]:
        """Each point's key (one string per point: for tests and small batches)."""
        return tuple(self.names[code] for code in self.codes.tolist())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MetricColumns):
            return NotImplemented
        return (
            self.keys() == other.keys()
            and np.array_equal(self.steps, other.steps)
            and np.array_equal(self.timestamps_ms, other.timestamps_ms)
            and np.array_equal(self.values, other.values, equal_nan=True)
        )

    __hash__ = None  # type: ignore[assignment]


def metric_columns(event: pb.MetricsLogged, payload: bytes | None = None) -> MetricColumns:
    """The batch's columns; ``payload``, the envelope's bytes, lets the keys be read
    without a string per point (ingest/decode/metric_keys.py)."""
    names, codes = key_codes(event.keys, payload)
    values = np.array(event.values, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, large sums
        total = float(values.sum())
    if not math.isfinite(total):  # NaN or inf somewhere (or a sum past the largest double)
        infinite = np.isinf(values)
        if infinite.any():
            values[infinite] = np.copysign(sys.float_info.max, values[infinite])
    return MetricColumns(
        names,
        codes,
        np.array(event.steps, dtype=np.int64),
        np.array(event.timestamps_ms, dtype=np.int64),
        values,
    )


def metric_order(point: Point) -> tuple[int, int, bool, float]:
    """Sort key matching Postgres' comparison of (step, timestamp_ms, value)."""
    step, timestamp_ms, value = point
    nan = math.isnan(value)
    return (step, timestamp_ms, nan, 0.0 if nan else value)


def later(a: Point, b: Point) -> Point:
    """The later of two points of one metric."""
    return a if metric_order(a) >= metric_order(b) else b


def latest_per_key(columns: MetricColumns) -> dict[str, Point]:
    """The latest point of each key: the largest step, then among those the largest
    timestamp, then the largest value (np.maximum propagates NaN: NaN wins, as in
    Postgres). A few vectorized passes over the batch."""
    if not len(columns):
        return {}
    codes, count = columns.codes, len(columns.names)
    steps = np.full(count, _INT64_MIN, dtype=np.int64)
    np.maximum.at(steps, codes, columns.steps)
    at = columns.steps == steps[codes]
    codes, timestamps, values = codes[at], columns.timestamps_ms[at], columns.values[at]
    latest_ts = np.full(count, _INT64_MIN, dtype=np.int64)
    np.maximum.at(latest_ts, codes, timestamps)
    at = timestamps == latest_ts[codes]
    latest_values = np.full(count, -np.inf, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # NaN compared: it propagates, as wanted
        np.maximum.at(latest_values, codes[at], values[at])
    return {
        name: (step, ts, value)
        for name, step, ts, value in zip(
            columns.names, steps.tolist(), latest_ts.tolist(), latest_values.tolist(), strict=True
        )
    }
