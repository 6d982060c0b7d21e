"""Steps 1-2 over a polled batch: decode every record and project it. Pure.

Every record, rejected or not, keeps its place in `postgres` (a rejected one with
no operations) so that the Postgres tracking row moves past it. `without()`
drops the effects of records (duplicates of events already applied) the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tracklog.contract.topics import Partition
from tracklog.ingest.decode.envelope import InvalidEvent, decode
from tracklog.ingest.projectors import clickhouse as projector_clickhouse
from tracklog.ingest.projectors import postgres as projector_postgres
from tracklog.ingest.projectors.clickhouse import MetricPoints
from tracklog.ingest.projectors.postgres import PostgresOp
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
    event_ids: tuple[tuple[Position, str], ...] = ()  # of every decoded record

    @property
    def point_count(self) -> int:
        return sum(len(points) for _, points in self.points)

    def next_offsets(self) -> dict[Partition, int]:
        """Per (log, partition): the offset to commit (last offset in the batch + 1)."""
        nexts: dict[Partition, int] = {}
        for record in self.records:
            p = record.position
            nexts[p.log_partition] = max(nexts.get(p.log_partition, 0), p.offset + 1)
        return nexts

    def without(self, dropped: frozenset[Position]) -> ProjectedBatch:
        """This batch with the effects of the `dropped` records removed (positions kept)."""
        if not dropped:
            return self
        return ProjectedBatch(
            self.records,
            tuple((p, () if p in dropped else ops) for p, ops in self.postgres),
            tuple((p, points) for p, points in self.points if p not in dropped),
            tuple(r for r in self.rejected if r.record.position not in dropped),
            tuple((p, e) for p, e in self.event_ids if p not in dropped),
        )

    def only(self, kept: frozenset[Position]) -> ProjectedBatch:
        """The part of this batch made of the `kept` records."""
        return ProjectedBatch(
            tuple(r for r in self.records if r.position in kept),
            tuple((p, ops) for p, ops in self.postgres if p in kept),
            tuple((p, points) for p, points in self.points if p in kept),
            tuple(r for r in self.rejected if r.record.position in kept),
            tuple((p, e) for p, e in self.event_ids if p in kept),
        )


def project_batch(records: Iterable[Record], max_event_bytes: int | None = None) -> ProjectedBatch:
    """Decode (refusing records over ``max_event_bytes``) and project every record."""
    kept: list[Record] = []
    postgres: list[tuple[Position, tuple[PostgresOp, ...]]] = []
    points: list[tuple[Position, MetricPoints]] = []
    rejected: list[Rejected] = []
    event_ids: list[tuple[Position, str]] = []
    for record in records:
        kept.append(record)
        try:
            envelope = decode(record.value, max_event_bytes)
        except InvalidEvent as exc:
            rejected.append(Rejected(record, exc.reason))
            postgres.append((record.position, ()))
            continue
        event_ids.append((record.position, envelope.event_id))
        postgres.append((record.position, tuple(projector_postgres.project(envelope))))
        metric_points = projector_clickhouse.project_at(envelope, record.position)
        if metric_points is not None and len(metric_points):
            points.append((record.position, metric_points))
    return ProjectedBatch(
        tuple(kept), tuple(postgres), tuple(points), tuple(rejected), tuple(event_ids)
    )
