"""What moves down the worker's chain (ingest/steps/): a polled batch decoded
(`DecodedBatch`), then projected (`ProjectedBatch`). Decoding and projecting are pure.

Every record, rejected or not, keeps its place in `postgres` (a rejected one with
no operations) so that the Postgres tracking row moves past it. `without()`
drops the effects of records (duplicates of events already applied) the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tracklog.contract.topics import Partition
from tracklog.ingest.decode.authority import TopicAuthority
from tracklog.ingest.decode.envelope import InvalidEvent, decode
from tracklog.ingest.projectors import clickhouse as projector_clickhouse
from tracklog.ingest.projectors import postgres as projector_postgres
from tracklog.ingest.projectors.clickhouse import MetricPoints
from tracklog.ingest.projectors.metric_columns import metric_columns
from tracklog.ingest.projectors.postgres import PostgresOp
from tracklog.ingest.records import Position, Record
from tracklog.v1 import events_pb2 as pb


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that goes to the dead-letter topic, and why."""

    record: Record
    reason: str


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """Polled records and, in the same order, each one's envelope (None: rejected)."""

    records: tuple[Record, ...]
    envelopes: tuple[pb.Envelope | None, ...]
    rejected: tuple[Rejected, ...]


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


def decode_batch(
    records: Iterable[Record],
    max_event_bytes: int | None = None,
    authority: TopicAuthority | None = None,
) -> DecodedBatch:
    """Decode every record, refusing those over ``max_event_bytes``, invalid, or on a
    topic that may not carry them (``authority``; None: any topic, for tools and tests)."""
    kept: list[Record] = []
    envelopes: list[pb.Envelope | None] = []
    rejected: list[Rejected] = []
    for record in records:
        kept.append(record)
        try:
            envelope = decode(record.value, max_event_bytes)
        except InvalidEvent as exc:
            rejected.append(Rejected(record, exc.reason))
            envelopes.append(None)
            continue
        p = record.position
        kind = envelope.WhichOneof("payload") or ""
        refused = None if authority is None else authority.refusal(p.log_partition, p.offset, kind)
        if refused:
            rejected.append(Rejected(record, refused))
            envelopes.append(None)
        else:
            envelopes.append(envelope)
    return DecodedBatch(tuple(kept), tuple(envelopes), tuple(rejected))


def project_decoded(decoded: DecodedBatch) -> ProjectedBatch:
    """Project every decoded record; a rejected one keeps its place with no operations."""
    postgres: list[tuple[Position, tuple[PostgresOp, ...]]] = []
    points: list[tuple[Position, MetricPoints]] = []
    event_ids: list[tuple[Position, str]] = []
    for record, envelope in zip(decoded.records, decoded.envelopes, strict=True):
        if envelope is None:
            postgres.append((record.position, ()))
            continue
        event_ids.append((record.position, envelope.event_id))
        columns = None  # a MetricsLogged event's, read once for both projectors
        if envelope.WhichOneof("payload") == "metrics_logged":
            columns = metric_columns(envelope.metrics_logged, record.value)
        postgres.append((record.position, tuple(projector_postgres.project(envelope, columns))))
        metric_points = projector_clickhouse.project_at(envelope, record.position, columns)
        if metric_points is not None and len(metric_points):
            points.append((record.position, metric_points))
    return ProjectedBatch(
        decoded.records, tuple(postgres), tuple(points), decoded.rejected, tuple(event_ids)
    )


def project_batch(
    records: Iterable[Record],
    max_event_bytes: int | None = None,
    authority: TopicAuthority | None = None,
) -> ProjectedBatch:
    """Decode (refusing records over ``max_event_bytes`` or on the wrong topic, see
    `decode_batch`) and project every record."""
    return project_decoded(decode_batch(records, max_event_bytes, authority))
