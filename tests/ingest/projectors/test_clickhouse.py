"""The ClickHouse projector is a pure function of (event, topic, partition, offset)."""

from __future__ import annotations

import math
import sys

import numpy as np

from tests.ingest.events import metrics_logged, params_logged
from tracklog.ingest.projectors.clickhouse import COLUMN_NAMES, project
from tracklog.ingest.projectors.metric_columns import metric_columns


def test_points_are_columnar_and_stamped_with_their_position() -> None:
    event = metrics_logged("r1", [("loss", 0, 10, 1.0), ("acc", 0, 10, 0.5)])
    points = project(event, "t", 3, 42)
    assert points is not None
    assert (points.run_id, points.topic, points.partition, points.offset) == ("r1", "t", 3, 42)
    assert points.columns.names == ("loss", "acc")
    assert points.columns.codes.tolist() == [0, 1]
    assert points.columns.steps.dtype == np.int64 and points.columns.values.dtype == np.float64
    assert points.rows() == [
        ("r1", "loss", 0, 10, 1.0, "t", 3, 42),
        ("r1", "acc", 0, 10, 0.5, "t", 3, 42),
    ]
    assert len(points) == 2
    assert len(COLUMN_NAMES) == len(points.rows()[0])


def test_projection_is_pure_and_idempotent() -> None:
    event = metrics_logged("r1", [("loss", i, 1000 + i, 1.0 / (i + 1)) for i in range(100)])
    assert project(event, "t", 0, 7) == project(event, "t", 0, 7)


def test_columns_read_from_the_record_bytes_are_the_parsed_message_columns() -> None:
    event = metrics_logged("r1", [(k, i, 1000 + i, float(i)) for i in range(50) for k in "abc"])
    payload = event.SerializeToString()
    from_bytes = metric_columns(event.metrics_logged, payload)
    assert from_bytes == metric_columns(event.metrics_logged)
    assert project(event, "t", 0, 7, from_bytes) == project(event, "t", 0, 7)


def test_infinities_are_clamped_and_nan_kept() -> None:
    event = metrics_logged(
        "r1", [("a", 0, 1, float("inf")), ("a", 1, 1, float("-inf")), ("a", 2, 1, float("nan"))]
    )
    points = project(event, "t", 0, 0)
    assert points is not None
    values = points.columns.values.tolist()
    assert values[:2] == [sys.float_info.max, -sys.float_info.max]
    assert math.isnan(values[2])


def test_other_events_have_no_points() -> None:
    assert project(params_logged("r1", {"a": "1"}), "t", 0, 0) is None
