"""ClickHouse read-model schema: one row per metric point.

Ordered by (run_id, key, step, timestamp_ms) so that one run's history of one
metric is a contiguous range. Each row carries the Kafka topic, partition and
offset it came from: on start and after a rebalance the writer skips records at
or below the highest offset already stored for a partition, which makes
redelivered events invisible (see ingest/writers/clickhouse.py). The `topic` column
holds the log name `topic@<topic id>` (ingest/records.py), so a topic created
again starts with fresh positions.
"""

from __future__ import annotations

from typing import Any

METRIC_POINTS = "metric_points"


def migrate(client: Any, database: str) -> None:
    """Create the database and tables if missing (idempotent)."""
    if not database.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {database!r}")
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"""
        CREATE TABLE IF NOT EXISTS {database}.{METRIC_POINTS} (
            run_id       String,
            key          LowCardinality(String),
            step         Int64,
            timestamp_ms Int64,
            value        Float64,
            topic        LowCardinality(String),
            partition    UInt16,
            offset       UInt64
        )
        ENGINE = MergeTree
        ORDER BY (run_id, key, step, timestamp_ms)
        """
    )
