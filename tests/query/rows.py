"""Write read-model rows directly, as the ingest worker would, for query tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg

POINT_COLUMNS = ["run_id", "key", "step", "timestamp_ms", "value", "topic", "partition", "offset"]


def insert_experiment(
    conn: psycopg.Connection[Any],
    experiment_id: str,
    name: str,
    created: datetime,
    tags: Mapping[str, str] | None = None,
    artifact_location: str = "",
) -> None:
    conn.execute(
        "INSERT INTO experiments (experiment_id, name, artifact_location, creation_time,"
        " last_update_time) VALUES (%s, %s, %s, %s, %s)",
        (experiment_id, name, artifact_location, created, created),
    )
    for key, value in (tags or {}).items():
        conn.execute(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (%s, %s, %s)",
            (experiment_id, key, value),
        )


def insert_run(
    conn: psycopg.Connection[Any],
    run_id: str,
    experiment_id: str,
    *,
    status: str = "RUNNING",
    start: datetime | None = None,
    end: datetime | None = None,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    metrics: Iterable[tuple[str, float, int, int]] = (),  # key, value, timestamp_ms, step
    run_name: str = "",
    parent_run_id: str = "",
    user_id: str = "",
) -> None:
    conn.execute(
        "INSERT INTO runs (run_id, experiment_id, run_name, parent_run_id, user_id, status,"
        " start_time, end_time) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (run_id, experiment_id, run_name, parent_run_id, user_id, status, start, end),
    )
    for table, pairs in (("params", params), ("tags", tags)):
        for key, value in (pairs or {}).items():
            conn.execute(
                f"INSERT INTO {table} (run_id, key, value) VALUES (%s, %s, %s)",  # type: ignore[arg-type]
                (run_id, key, value),
            )
    for metric_key, metric_value, timestamp_ms, step in metrics:
        conn.execute(
            "INSERT INTO latest_metrics (run_id, key, step, timestamp_ms, value)"
            " VALUES (%s, %s, %s, %s, %s)",
            (run_id, metric_key, step, timestamp_ms, metric_value),
        )


def insert_points(
    client: Any,
    database: str,
    run_id: str,
    key: str,
    points: Sequence[tuple[int, int, float]],  # step, timestamp_ms, value
    first_offset: int = 0,
) -> None:
    n = len(points)
    columns = [
        [run_id] * n,
        [key] * n,
        [p[0] for p in points],
        [p[1] for p in points],
        [p[2] for p in points],
        ["tracklog.events"] * n,
        [0] * n,
        list(range(first_offset, first_offset + n)),
    ]
    client.insert(
        f"{database}.metric_points", columns, column_names=POINT_COLUMNS, column_oriented=True
    )
