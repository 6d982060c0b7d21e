"""Steps 1-2 over a polled batch: decode every record and project it. Pure.

Every record, rejected or not, keeps its place in `postgres` (a rejected one with
no operations) so that the Postgres tracking row moves past it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tracklog.ingest import projector_clickhouse, projector_postgres
from tracklog.ingest.decode import InvalidEvent, decode
from tracklog.ingest.projector_clickhouse import MetricPoints
from tracklog.ingest.projector_postgres import PostgresOp
from tracklog.ingest.records import Position, Record


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that goes to the dead-letter topic, and why."""

    record: Record
    reason: str


@dataclass(frozen=True, slots=True)
class ProjectedBatch:
    records: tuple[Record, ...]
    postgres: tuple[tuple[Position, tuple[PostgresOp, ...]], ...]
    points: tuple[tuple[Position, MetricPoints], ...]
    rejected: tuple[Rejected, ...]

    @property
    def point_count(self) -> int:
        return sum(len(points) for _, points in self.points)

    def next_offsets(self) -> dict[tuple[str, int], int]:
        """Per (topic, partition): the offset to commit (last offset in the batch + 1)."""
        nexts: dict[tuple[str, int], int] = {}
        for record in self.records:
            p = record.position
            nexts[(p.topic, p.partition)] = max(nexts.get((p.topic, p.partition), 0), p.offset + 1)
        return nexts


def project_batch(records: Iterable[Record]) -> ProjectedBatch:
    kept: list[Record] = []
    postgres: list[tuple[Position, tuple[PostgresOp, ...]]] = []
    points: list[tuple[Position, MetricPoints]] = []
    rejected: list[Rejected] = []
    for record in records:
        kept.append(record)
        try:
            envelope = decode(record.value)
        except InvalidEvent as exc:
            rejected.append(Rejected(record, exc.reason))
            postgres.append((record.position, ()))
            continue
        postgres.append((record.position, tuple(projector_postgres.project(envelope))))
        metric_points = projector_clickhouse.project_at(envelope, record.position)
        if metric_points is not None and len(metric_points):
            points.append((record.position, metric_points))
    return ProjectedBatch(tuple(kept), tuple(postgres), tuple(points), tuple(rejected))
