"""Records to protos (pure)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from tracklog.query import convert
from tracklog.query.stores.records import MetricColumns, RunRecord
from tracklog.v1 import events_pb2


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
    columns = MetricColumns([0, 1], [10, 11], [1.5, math.nan])
    response = convert.metric_history("loss", columns, "token")
    assert [(p.step, p.timestamp_ms) for p in response.points] == [(0, 10), (1, 11)]
    assert response.points[0].value == 1.5 and math.isnan(response.points[1].value)
    assert (response.metric_key, response.next_page_token) == ("loss", "token")


def test_a_columnar_metric_history_carries_the_same_columns_and_no_points() -> None:
    columns = MetricColumns([0, 1], [10, 11], [1.5, math.nan])
    response = convert.metric_history("loss", columns, "token", columnar=True)
    assert not response.points
    assert (list(response.steps), list(response.timestamps_ms)) == ([0, 1], [10, 11])
    assert response.values[0] == 1.5 and math.isnan(response.values[1])
    assert (response.metric_key, response.next_page_token) == ("loss", "token")
