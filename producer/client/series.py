"""The series part of `TracklogClient`: downsampled series for charts, run comparison and
the streamed full history of a metric."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import grpc
import numpy as np
import numpy.typing as npt

from tracklog.client.base import ClientBase
from tracklog.client.errors import from_rpc
from tracklog.entities import Metric
from tracklog.v1 import series_pb2

MODES = {
    "lttb": series_pb2.DOWNSAMPLE_MODE_LTTB,
    "min_max_avg": series_pb2.DOWNSAMPLE_MODE_MIN_MAX_AVG,
}
X_AXES = {
    "step": series_pb2.SERIES_X_AXIS_STEP,
    "wall_time": series_pb2.SERIES_X_AXIS_WALL_TIME,
    "relative_time": series_pb2.SERIES_X_AXIS_RELATIVE_TIME,
}


def _floats(values: Sequence[float]) -> npt.NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def _ints(values: Sequence[int]) -> npt.NDArray[np.int64]:
    return np.asarray(values, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """One (run, key): points (xs, steps, timestamps_ms, values) or, when `bucketed`,
    buckets (xs..x_ends, mins, maxs, avgs, counts)."""

    run_id: str
    key: str
    total_points: int
    downsampled: bool
    bucketed: bool
    xs: npt.NDArray[np.float64]
    steps: npt.NDArray[np.int64]
    timestamps_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    x_ends: npt.NDArray[np.float64] = field(default_factory=lambda: _floats([]))
    mins: npt.NDArray[np.float64] = field(default_factory=lambda: _floats([]))
    maxs: npt.NDArray[np.float64] = field(default_factory=lambda: _floats([]))
    avgs: npt.NDArray[np.float64] = field(default_factory=lambda: _floats([]))
    counts: npt.NDArray[np.int64] = field(default_factory=lambda: _ints([]))


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """A metric of one run in a comparison; None when the run has no such metric."""

    last: float
    last_step: int
    last_timestamp_ms: int
    min: float
    max: float


@dataclass(frozen=True, slots=True)
class RunComparison:
    """Params and metrics side by side: one entry per run (None where missing)."""

    run_ids: list[str]
    differing_params: dict[str, list[str | None]]
    agreeing_params: dict[str, str]
    metrics: dict[str, list[MetricSummary | None]]


def _series(message: series_pb2.MetricSeries) -> MetricSeries:
    return MetricSeries(
        run_id=message.run_id,
        key=message.metric_key,
        total_points=message.total_points,
        downsampled=message.downsampled,
        bucketed=message.bucketed,
        xs=_floats(message.xs),
        steps=_ints(message.steps),
        timestamps_ms=_ints(message.timestamps_ms),
        values=_floats(message.values),
        x_ends=_floats(message.x_ends),
        mins=_floats(message.mins),
        maxs=_floats(message.maxs),
        avgs=_floats(message.avgs),
        counts=_ints(message.counts),
    )


class SeriesMixin(ClientBase):
    def get_metric_series(
        self,
        run_ids: Sequence[str],
        keys: Sequence[str],
        max_points: int = 1000,
        mode: str = "lttb",
        x_axis: str = "step",
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> list[MetricSeries]:
        """At most `max_points` points (or buckets) per (run, key), runs then keys in order.

        `mode` is "lttb" or "min_max_avg"; `x_axis` "step", "wall_time" or "relative_time".
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
        if x_axis not in X_AXES:
            raise ValueError(f"x_axis must be one of {sorted(X_AXES)}, got {x_axis!r}")
        self._sync()
        request = series_pb2.GetMetricSeriesRequest(
            run_ids=list(run_ids),
            metric_keys=list(keys),
            max_points=max_points,
            mode=MODES[mode],
            x_axis=X_AXES[x_axis],
            min_step=min_step,
            max_step=max_step,
        )
        response = self._call(self._query.GetMetricSeries, request)
        return [_series(s) for s in response.series]

    def compare_runs(self, run_ids: Sequence[str]) -> RunComparison:
        """Params that differ and agree, and last / min / max of every metric, per run."""
        self._sync()
        request = series_pb2.CompareRunsRequest(run_ids=list(run_ids))
        response = self._call(self._query.CompareRuns, request)
        differing = {
            p.key: [v.value if v.present else None for v in p.values]
            for p in response.differing_params
        }
        agreeing = {p.key: p.values[0].value for p in response.agreeing_params}
        metrics = {
            m.key: [
                MetricSummary(v.last, v.last_step, v.last_timestamp_ms, v.min, v.max)
                if v.present
                else None
                for v in m.values
            ]
            for m in response.metrics
        }
        return RunComparison(list(response.run_ids), differing, agreeing, metrics)

    def iter_metric_history(
        self, run_id: str, key: str, chunk_size: int = 50_000
    ) -> Iterator[Metric]:
        """Every point of one metric in (step, timestamp, value) order, streamed in chunks."""
        self._sync()
        request = series_pb2.StreamMetricHistoryRequest(
            run_id=run_id, metric_key=key, chunk_size=chunk_size
        )
        try:
            for chunk in self._query.StreamMetricHistory(request, timeout=self._timeout):
                for step, stamp, value in zip(
                    chunk.steps, chunk.timestamps_ms, chunk.values, strict=True
                ):
                    yield Metric(key, value, stamp, step)
        except grpc.RpcError as error:
            raise from_rpc(error) from error

    get_metric_history_stream = iter_metric_history
