"""GetMetricSeries, the pure part: request validation and bucket math.

MIN_MAX_AVG buckets are equal-width in x: a point at x falls in bucket
`floor((x - lo) * n / (hi - lo + 1))` (clamped to n - 1) where lo and hi are the
series' smallest and largest x. ClickHouse computes the same float expression
(series/store.py); `bucket_of` is its reference.

LTTB is ClickHouse's native `largestTriangleThreeBuckets` (standard LTTB: first and
last point kept, `max_points - 2` equal-count buckets in between, NaN values left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from tracklog.query.errors import InvalidArgument
from tracklog.v1 import series_pb2

MAX_RUNS = 1000
DEFAULT_POINTS = 1000
MAX_POINTS = 10_000
MIN_POINTS = 3

Mode = Literal["lttb", "min_max_avg"]
Axis = Literal["step", "wall_time", "relative_time"]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_MODES: dict[int, Mode] = {
    series_pb2.DOWNSAMPLE_MODE_UNSPECIFIED: "lttb",
    series_pb2.DOWNSAMPLE_MODE_LTTB: "lttb",
    series_pb2.DOWNSAMPLE_MODE_MIN_MAX_AVG: "min_max_avg",
}
_AXES: dict[int, Axis] = {
    series_pb2.SERIES_X_AXIS_UNSPECIFIED: "step",
    series_pb2.SERIES_X_AXIS_STEP: "step",
    series_pb2.SERIES_X_AXIS_WALL_TIME: "wall_time",
    series_pb2.SERIES_X_AXIS_RELATIVE_TIME: "relative_time",
}


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    """GetMetricSeries, validated. Runs and keys are distinct, in request order."""

    run_ids: tuple[str, ...]
    keys: tuple[str, ...]
    max_points: int
    mode: Mode
    axis: Axis
    min_step: int | None = None
    max_step: int | None = None
    with_timestamps: bool = False  # LTTB on the step axis: the kept points' timestamps too

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [(run, key) for run in self.run_ids for key in self.keys]


def _distinct(values: object, what: str) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(values))  # type: ignore[call-overload]
    if any(not v for v in items):
        raise InvalidArgument(f"{what} must not contain an empty string")
    return items


def series_query(request: series_pb2.GetMetricSeriesRequest) -> SeriesQuery:
    run_ids = _distinct(request.run_ids, "run_ids")
    if not run_ids:
        raise InvalidArgument("run_ids must name at least one run")
    if len(run_ids) > MAX_RUNS:
        raise InvalidArgument(f"run_ids must name at most {MAX_RUNS} runs, got {len(run_ids)}")
    keys = _distinct(request.metric_keys, "metric_keys")
    if not keys:
        raise InvalidArgument("metric_keys must name at least one metric")
    points = request.max_points or DEFAULT_POINTS
    if not MIN_POINTS <= points <= MAX_POINTS:
        raise InvalidArgument(
            f"max_points must be between {MIN_POINTS} and {MAX_POINTS}, got {request.max_points}"
        )
    if request.mode not in _MODES:
        raise InvalidArgument(f"unknown mode {int(request.mode)}")
    if request.x_axis not in _AXES:
        raise InvalidArgument(f"unknown x_axis {int(request.x_axis)}")
    min_step = request.min_step if request.HasField("min_step") else None
    max_step = request.max_step if request.HasField("max_step") else None
    if min_step is not None and max_step is not None and min_step > max_step:
        raise InvalidArgument(f"min_step ({min_step}) must not exceed max_step ({max_step})")
    return SeriesQuery(
        run_ids,
        keys,
        points,
        _MODES[request.mode],
        _AXES[request.x_axis],
        min_step,
        max_step,
        request.with_timestamps,
    )


def bucket_of(x: Floats, lo: float, hi: float, buckets: int) -> Ints:
    """Each x's bucket, by the same float expression as the SQL side."""
    raw = np.floor((x - lo) * float(buckets) / (hi - lo + 1.0))
    return np.minimum(raw, buckets - 1).astype(np.int64)
