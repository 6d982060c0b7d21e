"""Records to protobuf messages (pure).

A search page is filled in place (`search_runs`): each run, param, tag and metric is
added to the response and its fields set one by one, which upb does several times faster
than building messages from keyword arguments and copying them in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from tracklog.contract import lifecycle_stages
from tracklog.query.packed_columns import packed_double, packed_int64
from tracklog.query.paging import to_micros
from tracklog.query.requests import status_value
from tracklog.query.stores.records import (
    ExperimentRecord,
    KeyValue,
    MetricColumns,
    RunRecord,
    RunRow,
)
from tracklog.v1 import events_pb2, query_pb2, tracking_pb2


def timestamp(moment: datetime) -> Timestamp:
    seconds, micros = divmod(to_micros(moment), 1_000_000)
    return Timestamp(seconds=seconds, nanos=micros * 1000)


def tags(pairs: Iterable[KeyValue]) -> list[events_pb2.Tag]:
    return [events_pb2.Tag(key=p.key, value=p.value) for p in pairs]


def experiment(record: ExperimentRecord) -> query_pb2.Experiment:
    return query_pb2.Experiment(
        experiment_id=record.experiment_id,
        name=record.name,
        artifact_location=record.artifact_location,
        lifecycle_stage=lifecycle_stages.to_proto(record.lifecycle_stage),
        creation_time=timestamp(record.creation_time),
        tags=tags(record.tags),
    )


def _set_time(field: Timestamp, moment: datetime) -> None:
    seconds, micros = divmod(to_micros(moment), 1_000_000)
    field.seconds = seconds
    field.nanos = micros * 1000


def fill_run_info(info: query_pb2.RunInfo, record: RunRecord) -> None:
    """Set `info`'s fields from the record (times only when known)."""
    info.run_id = record.run_id
    info.experiment_id = record.experiment_id
    info.run_name = record.run_name
    info.parent_run_id = record.parent_run_id
    info.status = status_value(record.status)
    info.user_id = record.user_id
    info.lifecycle_stage = lifecycle_stages.to_proto(record.lifecycle_stage)
    info.artifact_uri = record.artifact_uri
    if record.start_time is not None:
        _set_time(info.start_time, record.start_time)
    if record.end_time is not None:
        _set_time(info.end_time, record.end_time)


def run_info(record: RunRecord) -> query_pb2.RunInfo:
    info = query_pb2.RunInfo()
    fill_run_info(info, record)
    return info


def fill_run(run: query_pb2.Run, row: RunRow) -> None:
    """Set a run's info, params, tags, latest metrics and dataset inputs from the row."""
    fill_run_info(run.info, row.info)
    data = run.data
    add_param = data.params.add
    for key, value in zip(row.param_keys, row.param_values, strict=True):
        add_param(key=key, value=value)
    add_tag = data.tags.add
    for key, value in zip(row.tag_keys, row.tag_values, strict=True):
        add_tag(key=key, value=value)
    add_metric = data.metrics.add
    for key, number, timestamp_ms, step in zip(
        row.metric_keys, row.metric_values, row.metric_timestamps_ms, row.metric_steps, strict=True
    ):
        add_metric(key=key, value=number, timestamp_ms=timestamp_ms, step=step)
    for name, digest, source_type, source, schema, profile, context, pairs in row.inputs:
        run.inputs.add(
            name=name,
            digest=digest,
            source_type=source_type,
            source=source,
            schema=schema,
            profile=profile,
            context=context,
            tags=[tracking_pb2.InputTag(key=key, value=value) for key, value in pairs],
        )


def search_runs(rows: Iterable[RunRow], token: str) -> query_pb2.SearchRunsResponse:
    """A SearchRuns page: the runs with their params, tags, latest metrics and inputs."""
    response = query_pb2.SearchRunsResponse(next_page_token=token)
    add = response.runs.add
    for row in rows:
        fill_run(add(), row)
    return response


def metric_history(
    key: str, columns: MetricColumns, token: str, columnar: bool = False
) -> query_pb2.GetMetricHistoryResponse:
    """The response for a page of points: packed columns when asked (`columnar`, encoded in
    bulk), else one MetricPoint per point (filled field by field: ~3x faster than kwargs)."""
    response = query_pb2.GetMetricHistoryResponse(metric_key=key, next_page_token=token)
    if columnar:
        response.MergeFromString(
            packed_int64(response.STEPS_FIELD_NUMBER, columns.steps)
            + packed_int64(response.TIMESTAMPS_MS_FIELD_NUMBER, columns.timestamps_ms)
            + packed_double(response.VALUES_FIELD_NUMBER, columns.values)
        )
        return response
    add = response.points.add
    for step, timestamp_ms, value in zip(
        columns.steps.tolist(), columns.timestamps_ms.tolist(), columns.values.tolist(), strict=True
    ):
        point = add()
        point.step = step
        point.timestamp_ms = timestamp_ms
        point.value = value
    return response
