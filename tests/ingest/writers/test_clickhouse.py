"""The ClickHouse writer never stores a record's points twice."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ingest.events import clickhouse_snapshot, metrics_logged
from tracklog.contract.settings import Settings
from tracklog.ingest.projectors.clickhouse import MetricPoints, project_at
from tracklog.ingest.records import Position
from tracklog.ingest.writers import clickhouse as clickhouse_writer
from tracklog.ingest.writers.clickhouse import ClickHouseWriter

pytestmark = pytest.mark.integration

TOPIC = "events"


def points_batch(
    offsets: range, partition: int = 0, n: int = 3
) -> list[tuple[Position, MetricPoints]]:
    batch = []
    for offset in offsets:
        position = Position(TOPIC, partition, offset)
        event = metrics_logged(
            "r1", [("loss", offset * n + i, 1000 + i, float(i)) for i in range(n)]
        )
        points = project_at(event, position)
        assert points is not None
        batch.append((position, points))
    return batch


@pytest.fixture
def writer(settings: Settings, clickhouse_client: Any) -> ClickHouseWriter:
    w = ClickHouseWriter(clickhouse_client, settings.clickhouse_database)
    w.migrate()
    return w


def count(client: Any, database: str) -> int:
    return int(client.query(f"SELECT count() FROM {database}.metric_points").result_rows[0][0])


def test_replay_inserts_nothing_twice(
    writer: ClickHouseWriter, settings: Settings, clickhouse_client: Any
) -> None:
    database = settings.clickhouse_database
    assert writer.write(points_batch(range(0, 4))) == 12
    before = clickhouse_snapshot(clickhouse_client, database)
    assert writer.write(points_batch(range(0, 4))) == 0
    assert clickhouse_snapshot(clickhouse_client, database) == before

    # a new writer (restarted worker) reads the high-water mark from the table
    fresh = ClickHouseWriter(clickhouse_client, database)
    assert fresh.load([(TOPIC, 0), (TOPIC, 1)]) == {(TOPIC, 0): 3, (TOPIC, 1): -1}
    assert fresh.write(points_batch(range(2, 6))) == 6  # offsets 4 and 5 only
    assert fresh.write(points_batch(range(0, 2), partition=1)) == 6
    assert count(clickhouse_client, database) == 24
    dupes = clickhouse_client.query(
        f"SELECT count() FROM (SELECT partition, offset, step, count() AS c"
        f" FROM {database}.metric_points GROUP BY ALL HAVING c > 1)"
    ).result_rows[0][0]
    assert dupes == 0


def test_large_batches_are_split_at_record_boundaries(
    writer: ClickHouseWriter,
    settings: Settings,
    clickhouse_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(clickhouse_writer, "MAX_INSERT_ROWS", 10)
    inserts: list[int] = []
    original = clickhouse_client.raw_insert

    def counting_insert(*args: Any, **kwargs: Any) -> Any:
        summary = original(*args, **kwargs)
        inserts.append(int(summary.written_rows))
        return summary

    monkeypatch.setattr(clickhouse_client, "raw_insert", counting_insert)
    assert writer.write(points_batch(range(0, 7), n=3)) == 21
    assert inserts == [9, 9, 3]
    assert count(clickhouse_client, settings.clickhouse_database) == 21


def test_a_failed_insert_leaves_the_high_water_mark(
    writer: ClickHouseWriter,
    clickhouse_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    def failing_insert(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("ClickHouse is down")

    writer.write(points_batch(range(0, 1)))
    monkeypatch.setattr(clickhouse_client, "raw_insert", failing_insert)
    with pytest.raises(ConnectionError):
        writer.write(points_batch(range(1, 3)))
    monkeypatch.undo()
    assert writer.high_water((TOPIC, 0)) == 0
    assert writer.write(points_batch(range(1, 3))) == 6  # the retry writes them
    assert count(clickhouse_client, settings.clickhouse_database) == 9
