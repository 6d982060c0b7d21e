"""Step 2b: an Envelope -> the metric_points rows it adds to ClickHouse. Pure.

Rows are columnar (numpy arrays, no Python object per point) and stamped with the
Kafka topic, partition and offset they came from, the same for every row of a record;
ingest/writers/clickhouse.py uses the stamp to skip records it already stored, and
ingest/writers/native_block.py turns a chunk of them into one insert.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracklog.ingest.projectors.metric_columns import MetricColumns, metric_columns
from tracklog.ingest.records import Position
from tracklog.v1 import events_pb2 as pb

COLUMN_NAMES = ("run_id", "key", "step", "timestamp_ms", "value", "topic", "partition", "offset")


@dataclass(frozen=True, slots=True)
class MetricPoints:
    """metric_points rows of one record: its run and position, and its points' columns."""

    run_id: str
    columns: MetricColumns
    topic: str
    partition: int
    offset: int

    def __len__(self) -> int:
        return len(self.columns)

    def rows(self) -> list[tuple[str, str, int, int, float, str, int, int]]:
        """The rows in COLUMN_NAMES order, one tuple per point (for tests and tools)."""
        c = self.columns
        return [
            (self.run_id, key, step, ts, value, self.topic, self.partition, self.offset)
            for key, step, ts, value in zip(
                c.keys(), c.steps.tolist(), c.timestamps_ms.tolist(), c.values.tolist(), strict=True
            )
        ]


def project(
    envelope: pb.Envelope,
    topic: str,
    partition: int,
    offset: int,
    columns: MetricColumns | None = None,
) -> MetricPoints | None:
    """The points of a MetricsLogged event; None for every other event. ``columns``: the
    event's, when the caller has them already (`metric_columns`)."""
    if envelope.WhichOneof("payload") != "metrics_logged":
        return None
    if columns is None:
        columns = metric_columns(envelope.metrics_logged)
    return MetricPoints(envelope.aggregate_id, columns, topic, partition, offset)


def project_at(
    envelope: pb.Envelope, position: Position, columns: MetricColumns | None = None
) -> MetricPoints | None:
    return project(envelope, position.log, position.partition, position.offset, columns)
