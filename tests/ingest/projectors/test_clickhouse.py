"""The ClickHouse projector is a pure function of (event, topic, partition, offset)."""

from __future__ import annotations

import math
import sys

from tests.ingest.events import metrics_logged, params_logged
from tracklog.ingest.projectors.clickhouse import COLUMN_NAMES, MetricPoints, project


def test_points_are_columnar_and_stamped_with_their_position() -> None:
    event = metrics_logged("r1", [("loss", 0, 10, 1.0), ("acc", 0, 10, 0.5)])
    assert project(event, "t", 3, 42) == MetricPoints(
        run_id=("r1", "r1"),
        key=("loss", "acc"),
        step=(0, 0),
        timestamp_ms=(10, 10),
        value=(1.0, 0.5),
        topic=("t", "t"),
        partition=(3, 3),
        offset=(42, 42),
    )
    assert len(project(event, "t", 3, 42) or ()) == 2
    assert len(COLUMN_NAMES) == len(
        (project(event, "t", 3, 42) or MetricPoints(*[()] * 8)).columns()
    )


def test_projection_is_pure_and_idempotent() -> None:
    event = metrics_logged("r1", [("loss", i, 1000 + i, 1.0 / (i + 1)) for i in range(100)])
    assert project(event, "t", 0, 7) == project(event, "t", 0, 7)


def test_infinities_are_clamped_and_nan_kept() -> None:
    event = metrics_logged(
        "r1", [("a", 0, 1, float("inf")), ("a", 1, 1, float("-inf")), ("a", 2, 1, float("nan"))]
    )
    points = project(event, "t", 0, 0)
    assert points is not None
    assert points.value[:2] == (sys.float_info.max, -sys.float_info.max)
    assert math.isnan(points.value[2])


def test_other_events_have_no_points() -> None:
    assert project(params_logged("r1", {"a": "1"}), "t", 0, 0) is None
