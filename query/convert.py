"""Records to protobuf messages (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from tracklog.contract import lifecycle_stages
from tracklog.query.paging import to_micros
from tracklog.query.requests import status_value
from tracklog.query.stores.records import (
    ExperimentRecord,
    KeyValue,
    LatestMetric,
    MetricColumns,
    RunDetails,
    RunRecord,
)
from tracklog.v1 import events_pb2, query_pb2


def timestamp(moment: datetime) -> Timestamp:
    seconds, micros = divmod(to_micros(moment), 1_000_000)
    return Timestamp(seconds=seconds, nanos=micros * 1000)


def tags(pairs: Iterable[KeyValue]) -> list[events_pb2.Tag]:
    return [events_pb2.Tag(key=p.key, value=p.value) for p in pairs]


def params(pairs: Iterable[KeyValue]) -> list[events_pb2.Param]:
    return [events_pb2.Param(key=p.key, value=p.value) for p in pairs]


def experiment(record: ExperimentRecord) -> query_pb2.Experiment:
    return query_pb2.Experiment(
        experiment_id=record.experiment_id,
        name=record.name,
        artifact_location=record.artifact_location,
        lifecycle_stage=lifecycle_stages.to_proto(record.lifecycle_stage),
        creation_time=timestamp(record.creation_time),
        tags=tags(record.tags),
    )


def run_info(record: RunRecord) -> query_pb2.RunInfo:
    info = query_pb2.RunInfo(
        run_id=record.run_id,
        experiment_id=record.experiment_id,
        run_name=record.run_name,
        parent_run_id=record.parent_run_id,
        status=status_value(record.status),
        user_id=record.user_id,
        lifecycle_stage=lifecycle_stages.to_proto(record.lifecycle_stage),
        artifact_uri=record.artifact_uri,
    )
    if record.start_time is not None:
        info.start_time.CopyFrom(timestamp(record.start_time))
    if record.end_time is not None:
        info.end_time.CopyFrom(timestamp(record.end_time))
    return info


def metric(latest: LatestMetric) -> query_pb2.Metric:
    return query_pb2.Metric(
        key=latest.key, value=latest.value, timestamp_ms=latest.timestamp_ms, step=latest.step
    )


def run(details: RunDetails) -> query_pb2.Run:
    data = query_pb2.RunData(
        params=params(details.params),
        tags=tags(details.tags),
        metrics=[metric(m) for m in details.metrics],
    )
    return query_pb2.Run(info=run_info(details.info), data=data)


def metric_history(
    key: str, columns: MetricColumns, token: str, columnar: bool = False
) -> query_pb2.GetMetricHistoryResponse:
    """The response for a page of points: packed columns when asked (`columnar`), else one
    MetricPoint per point (filled field by field: ~3x faster than kwargs)."""
    if columnar:
        return query_pb2.GetMetricHistoryResponse(
            metric_key=key,
            next_page_token=token,
            steps=columns.steps,
            timestamps_ms=columns.timestamps_ms,
            values=columns.values,
        )
    response = query_pb2.GetMetricHistoryResponse(metric_key=key, next_page_token=token)
    add = response.points.add
    for step, timestamp_ms, value in zip(
        columns.steps, columns.timestamps_ms, columns.values, strict=True
    ):
        point = add()
        point.step = step
        point.timestamp_ms = timestamp_ms
        point.value = value
    return response
