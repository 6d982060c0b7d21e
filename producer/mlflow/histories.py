"""Metric history and the web UI's chart samples, from the query service.

``get_metric_history`` pages through ``GetMetricHistory``. The UI's charts call
``get_metric_history_bulk_interval``; MLflow's base class reads every point of every run
to sample steps, which is what makes its charts slow on long runs. Here ClickHouse
samples: ``GetMetricSeries`` in LTTB mode on the step axis returns at most
``max_results`` points per run that keep the curve's shape, including its first and last
point (the last alone when one is asked for, as MLflow's SQL store answers). A series
of at most ``max_results`` points comes back whole; a downsampled one has its kept
points' timestamps looked up (``with_timestamps``), so the UI's wall-time axes are right.
"""

from __future__ import annotations

from mlflow.entities import Metric
from mlflow.entities.metric import MetricWithRunId
from mlflow.exceptions import MlflowException
from mlflow.store.entities.paged_list import PagedList
from mlflow.utils.validation import _validate_run_id

from tracklog.mlflow.errors import as_mlflow, mlflow_errors
from tracklog.mlflow.store_base import StoreBase
from tracklog.v1 import query_pb2, series_pb2

HISTORY_PAGE = 100_000  # the query service's largest page
MIN_SERIES_POINTS, MAX_SERIES_POINTS = 3, 10_000  # GetMetricSeries' bounds on max_points


class HistoriesPart(StoreBase):
    @mlflow_errors
    def get_metric_history(
        self,
        run_id: str,
        metric_key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        _validate_run_id(run_id)
        points: list[Metric] = []
        token = page_token or ""
        while True:
            size = HISTORY_PAGE if max_results is None else min(max_results, HISTORY_PAGE)
            request = query_pb2.GetMetricHistoryRequest(
                run_id=run_id,
                metric_key=metric_key,
                page_size=size,
                page_token=token,
                columnar=True,
            )
            page = self.client.query("GetMetricHistory", request)
            points.extend(
                Metric(metric_key, p.value, p.timestamp_ms, p.step, run_id=run_id)
                for p in page.points  # from a server that answers point by point
            )
            points.extend(
                Metric(metric_key, value, timestamp_ms, step, run_id=run_id)
                for step, timestamp_ms, value in zip(
                    page.steps, page.timestamps_ms, page.values, strict=True
                )
            )
            token = page.next_page_token
            if not token or max_results is not None:
                return PagedList(points, token or None)

    @mlflow_errors
    def get_metric_history_bulk_interval(
        self,
        run_ids: list[str],
        metric_key: str,
        max_results: int,
        start_step: int | None,
        end_step: int | None,
    ) -> list[MetricWithRunId]:
        if (start_step is None) != (end_step is None):
            raise MlflowException.invalid_parameter_value(
                "Both start_step and end_step must be provided together, "
                "or neither should be provided."
            )
        if not run_ids:
            return []
        request = series_pb2.GetMetricSeriesRequest(
            run_ids=list(run_ids),
            metric_keys=[metric_key],
            max_points=min(max(max_results, MIN_SERIES_POINTS), MAX_SERIES_POINTS),
            mode=series_pb2.DOWNSAMPLE_MODE_LTTB,
            x_axis=series_pb2.SERIES_X_AXIS_STEP,
            min_step=start_step,
            max_step=end_step,
            with_timestamps=True,  # the UI's wall-time axes
        )
        with as_mlflow():
            reply = self.client.query("GetMetricSeries", request)
        found: list[MetricWithRunId] = []
        for series in reply.series:
            found.extend(_points(series, max_results))
        return found


def _points(series: series_pb2.MetricSeries, max_results: int) -> list[MetricWithRunId]:
    steps, values = list(series.steps), list(series.values)
    stamps = list(series.timestamps_ms) or [0] * len(steps)
    if len(steps) > max_results:  # fewer than 3 asked: the ends, or the last one alone
        keep = [0, len(steps) - 1] if max_results > 1 else [len(steps) - 1]
        steps, values, stamps = (
            [steps[i] for i in keep],
            [values[i] for i in keep],
            [stamps[i] for i in keep],
        )
    return [
        MetricWithRunId(Metric(series.metric_key, v, t, s, run_id=series.run_id), series.run_id)
        for s, v, t in zip(steps, values, stamps, strict=True)
    ]
