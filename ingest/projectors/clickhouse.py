"""Step 2b: an Envelope -> the metric_points rows it adds to ClickHouse. Pure.

Rows are columnar (one tuple per column) and stamped with the Kafka topic,
partition and offset they came from; clickhouse_writer.py uses the stamp to
skip records it already stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracklog.ingest.projectors.metric_columns import metric_columns
from tracklog.ingest.records import Position
from tracklog.v1 import events_pb2 as pb

COLUMN_NAMES = ("run_id", "key", "step", "timestamp_ms", "value", "topic", "partition", "offset")


@dataclass(frozen=True, slots=True)
class MetricPoints:
    """metric_points rows of one record, column by column (all the same length)."""

    run_id: tuple[str, ...]
    key: tuple[str, ...]
    step: tuple[int, ...]
    timestamp_ms: tuple[int, ...]
    value: tuple[float, ...]
    topic: tuple[str, ...]
    partition: tuple[int, ...]
    offset: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.step)

    def columns(self) -> tuple[tuple[object, ...], ...]:
        """The columns in COLUMN_NAMES order."""
        return (
            self.run_id,
            self.key,
            self.step,
            self.timestamp_ms,
            self.value,
            self.topic,
            self.partition,
            self.offset,
        )


def project(envelope: pb.Envelope, topic: str, partition: int, offset: int) -> MetricPoints | None:
    """The points of a MetricsLogged event; None for every other event."""
    if envelope.WhichOneof("payload") != "metrics_logged":
        return None
    columns = metric_columns(envelope.metrics_logged)
    n = len(columns.steps)
    return MetricPoints(
        run_id=(envelope.aggregate_id,) * n,
        key=columns.keys,
        step=columns.steps,
        timestamp_ms=columns.timestamps_ms,
        value=columns.values,
        topic=(topic,) * n,
        partition=(partition,) * n,
        offset=(offset,) * n,
    )


def project_at(envelope: pb.Envelope, position: Position) -> MetricPoints | None:
    return project(envelope, position.log, position.partition, position.offset)
