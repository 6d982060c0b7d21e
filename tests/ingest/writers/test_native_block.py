"""A Native block built with numpy stores exactly the rows of its records, sorted or not."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.ingest.events import metrics_logged
from tracklog.contract.read_model.clickhouse_schema import METRIC_POINTS, migrate
from tracklog.contract.settings import Settings
from tracklog.ingest.projectors.clickhouse import COLUMN_NAMES, MetricPoints, project
from tracklog.ingest.writers.native_block import metric_points_block

pytestmark = pytest.mark.integration


def stored(client: Any, database: str) -> list[tuple[Any, ...]]:
    rows = client.query(f"SELECT * FROM {database}.{METRIC_POINTS}").result_rows
    return sorted((tuple(r) for r in rows), key=repr)


def chunk() -> list[MetricPoints]:
    events = [
        metrics_logged("run-b", [("loss", 0, 10, 1.0), ("acc", 0, 10, math.nan)]),
        metrics_logged(
            "run-a",
            [("zz", 5, 1, 2.0), ("é", 3, 2, math.inf)]
            + [(f"k{i}", i, i, float(i)) for i in range(300)],  # 16-bit key indexes
        ),
        metrics_logged("run-b", [("loss", 1, 11, 0.5), ("loss", -1, 9, 3.0)]),  # steps back
    ]
    points = [project(e, f"topic@{i % 2}", i % 3, 100 + i) for i, e in enumerate(events)]
    return [p for p in points if p is not None]


def test_the_block_inserts_every_row_once(settings: Settings, clickhouse_client: Any) -> None:
    database = settings.clickhouse_database
    migrate(clickhouse_client, database)
    records = chunk()
    clickhouse_client.raw_insert(
        f"{database}.{METRIC_POINTS}",
        list(COLUMN_NAMES),
        metric_points_block(records),
        fmt="Native",
    )
    expected = sorted((row for p in records for row in p.rows()), key=repr)
    assert repr(stored(clickhouse_client, database)) == repr(expected)  # NaN compares by repr


def test_building_is_pure() -> None:
    assert metric_points_block(chunk()) == metric_points_block(chunk())
