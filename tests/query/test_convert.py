"""Records to protos (pure)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from tracklog.query import convert
from tracklog.query.stores.records import MetricColumns, RunRecord, RunRow
from tracklog.v1 import events_pb2, query_pb2, tracking_pb2


def test_timestamps_keep_microseconds_on_both_sides_of_the_epoch() -> None:
    after = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)
    before = datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)
    for moment in (after, before):
        assert convert.timestamp(moment).ToDatetime(tzinfo=UTC) == moment
    assert convert.timestamp(before).seconds == -1
    assert convert.timestamp(before).nanos == 500_000_000


def test_an_unknown_stored_status_becomes_unspecified() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    record = RunRecord(
        "r", "e", "", "", "", "PAUSED", start, start + timedelta(1), "active", "s3://b/r"
    )
    info = convert.run_info(record)
    assert info.status == events_pb2.RUN_STATUS_UNSPECIFIED
    assert info.HasField("start_time") and info.HasField("end_time")


def test_metric_history_keeps_column_order_and_nan() -> None:
    columns = MetricColumns.of([0, 1], [10, 11], [1.5, math.nan])
    response = convert.metric_history("loss", columns, "token")
    assert [(p.step, p.timestamp_ms) for p in response.points] == [(0, 10), (1, 11)]
    assert response.points[0].value == 1.5 and math.isnan(response.points[1].value)
    assert (response.metric_key, response.next_page_token) == ("loss", "token")


def test_a_columnar_metric_history_carries_the_same_columns_and_no_points() -> None:
    columns = MetricColumns.of([0, 1], [10, 11], [1.5, math.nan])
    response = convert.metric_history("loss", columns, "token", columnar=True)
    assert not response.points
    assert (list(response.steps), list(response.timestamps_ms)) == ([0, 1], [10, 11])
    assert response.values[0] == 1.5 and math.isnan(response.values[1])
    assert (response.metric_key, response.next_page_token) == ("loss", "token")


def test_a_search_page_carries_each_runs_columns_as_messages() -> None:
    start = datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)
    full = RunRow(
        RunRecord("r1", "e", "name", "p", "u", "FINISHED", start, None, "deleted", "s3://b"),
        ["a", "b"],
        ["1", "2"],
        ["t"],
        ["v"],
        ["loss", "nan"],
        [0.5, math.nan],
        [10, 11],
        [3, -4],
        [["ds", "d1", "local", "{}", "", "", "train", [["k", "v"]]]],
    )
    bare = RunRow(
        RunRecord("r2", "e", "", "", "", "RUNNING", None, None, "active", ""),
        *([] for _ in range(9)),
    )
    response = convert.search_runs([full, bare], "next")
    assert response.next_page_token == "next"
    first, second = response.runs
    assert first.info.run_id == "r1" and first.info.status == events_pb2.RUN_STATUS_FINISHED
    assert first.info.lifecycle_stage == tracking_pb2.LIFECYCLE_STAGE_DELETED
    assert first.info.start_time == convert.timestamp(start)
    assert not first.info.HasField("end_time")
    assert [(p.key, p.value) for p in first.data.params] == [("a", "1"), ("b", "2")]
    assert [(t.key, t.value) for t in first.data.tags] == [("t", "v")]
    loss, nan = first.data.metrics
    assert loss == query_pb2.Metric(key="loss", value=0.5, timestamp_ms=10, step=3)
    assert (nan.key, nan.timestamp_ms, nan.step) == ("nan", 11, -4) and math.isnan(nan.value)
    assert list(first.inputs) == [
        tracking_pb2.DatasetInput(
            name="ds",
            digest="d1",
            source_type="local",
            source="{}",
            context="train",
            tags=[tracking_pb2.InputTag(key="k", value="v")],
        )
    ]
    assert second.info.run_id == "r2" and not second.info.HasField("start_time")
    assert second.data == query_pb2.RunData() and not second.inputs
    assert convert.run_info(full.info) == first.info
