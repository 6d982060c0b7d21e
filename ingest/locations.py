"""Artifact locations checked on decoded batches (issue 12, item 6): events naming a
location outside the allowed roots (ingest/decode/tracking.py `check_locations`,
TRACKLOG_ARTIFACT_ROOTS) are rejected with the reason, like undecodable ones. Used by the
worker's CheckLocations step and by rebuilds from the archive and Kafka, so that a rebuild
refuses what the live worker refused. Pure but for resolving local paths.
"""

from __future__ import annotations

from collections.abc import Iterable

from tracklog.contract.settings import ArtifactRootSettings
from tracklog.ingest.batch import (
    DecodedBatch,
    ProjectedBatch,
    Rejected,
    decode_batch,
    project_decoded,
)
from tracklog.ingest.decode.authority import TopicAuthority
from tracklog.ingest.decode.tracking import InvalidTrackingEvent, check_locations
from tracklog.ingest.records import Record
from tracklog.v1 import events_pb2 as pb


def outside_roots_rejected(batch: DecodedBatch, roots: ArtifactRootSettings) -> DecodedBatch:
    """The batch with the envelopes naming a location outside the roots rejected (the
    batch itself when locations are not checked)."""
    if not roots.checked:
        return batch
    allowed = roots.allowed()
    envelopes: list[pb.Envelope | None] = []
    rejected = list(batch.rejected)
    for record, envelope in zip(batch.records, batch.envelopes, strict=True):
        if envelope is not None:
            try:
                check_locations(envelope, allowed)
            except InvalidTrackingEvent as exc:
                kind = envelope.WhichOneof("payload")
                rejected.append(Rejected(record, f"invalid {kind}: {exc}"))
                envelope = None
        envelopes.append(envelope)
    rejected.sort(key=lambda r: r.record.position)  # log order, as decoding leaves them
    return DecodedBatch(batch.records, tuple(envelopes), tuple(rejected))


def project_checked(
    records: Iterable[Record],
    max_event_bytes: int | None,
    authority: TopicAuthority | None,
    roots: ArtifactRootSettings,
) -> ProjectedBatch:
    """`project_batch` with the location check in between."""
    decoded = decode_batch(records, max_event_bytes, authority)
    return project_decoded(outside_roots_rejected(decoded, roots))
