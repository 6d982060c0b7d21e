"""Step 2a for artifacts: an ArtifactLogged event -> one run_artifacts row. Pure.

The file itself never travels through Kafka; the row records where it is (path,
relative to the run's artifact_uri), its size and SHA-256. Logging a path again
replaces the row (artifact_writer.py upserts on (run_id, path)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tracklog.v1 import events_pb2 as pb


@dataclass(frozen=True, slots=True)
class ArtifactRow:
    run_id: str
    path: str
    size: int
    digest: str
    logged_at: datetime  # when the event happened (decode requires occurred_at)


def handles(envelope: pb.Envelope) -> bool:
    return envelope.WhichOneof("payload") == "artifact_logged"


def project(envelope: pb.Envelope) -> ArtifactRow:
    logged = envelope.artifact_logged
    if not envelope.HasField("occurred_at"):
        raise ValueError("artifact_logged without occurred_at; decode() rejects these")
    logged_at = envelope.occurred_at.ToDatetime(tzinfo=UTC)
    return ArtifactRow(envelope.aggregate_id, logged.path, logged.size, logged.digest, logged_at)
