"""Whole read models as comparable values, for replay tests."""

from __future__ import annotations

import math
from typing import Any

import psycopg

POSTGRES_TABLES = (
    "experiments",
    "experiment_tags",
    "runs",
    "params",
    "tags",
    "latest_metrics",
    "run_artifacts",
)
REGISTRY_TABLES = (
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
    "registry_audit",
    "registry_command_results",
)


def _comparable(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # NaN != NaN: compare NaNs as a marker so equal models compare equal
    return tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in row)


def postgres_snapshot(
    dsn: str, tables: tuple[str, ...] = POSTGRES_TABLES
) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(dsn) as conn:
        return {
            table: sorted(
                (_comparable(row) for row in conn.execute(f"SELECT * FROM {table}").fetchall()),
                key=repr,
            )
            for table in tables
        }


def clickhouse_snapshot(client: Any, database: str) -> list[tuple[Any, ...]]:
    rows = client.query(
        f"SELECT run_id, key, step, timestamp_ms, value, topic, partition, offset "
        f"FROM {database}.metric_points ORDER BY run_id, key, step, timestamp_ms, offset"
    ).result_rows
    return [_comparable(tuple(row)) for row in rows]
