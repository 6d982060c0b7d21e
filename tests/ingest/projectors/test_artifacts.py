"""ArtifactLogged: decoding rules and the pure projection to a run_artifacts row."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from tracklog.contract import envelopes
from tracklog.events import payloads as events
from tracklog.ingest.decode.envelope import InvalidEvent, decode
from tracklog.ingest.projectors.artifacts import ArtifactRow
from tracklog.ingest.projectors.postgres import project
from tracklog.v1 import events_pb2 as pb

DIGEST = hashlib.sha256(b"hello").hexdigest()
T0_NS = 1_700_000_000_123_000_000


def envelope(payload: pb.ArtifactLogged, *, occurred: bool = True) -> pb.Envelope:
    env = envelopes.envelope(
        event_id="e" * 32,
        aggregate_id="r1",
        occurred_ns=T0_NS,
        payload=payload,
        producer_session="s1",
        sequence=7,
    )
    if not occurred:
        env.ClearField("occurred_at")
    return env


def test_projects_one_row_and_is_deterministic() -> None:
    env = envelope(events.artifact_logged("notes/readme.md", 5, DIGEST))
    decoded = decode(env.SerializeToString())
    expected = ArtifactRow(
        "r1", "notes/readme.md", 5, DIGEST, datetime.fromtimestamp(T0_NS / 1e9, UTC)
    )
    assert project(decoded) == [expected]
    assert project(decoded) == project(decoded)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (pb.ArtifactLogged(path="../x", size=1, digest=DIGEST), "'..'"),
        (pb.ArtifactLogged(path="/etc/x", size=1, digest=DIGEST), "relative"),
        (pb.ArtifactLogged(path="a//b", size=1, digest=DIGEST), "normalized"),
        (pb.ArtifactLogged(path="", size=1, digest=DIGEST), "required"),
        (pb.ArtifactLogged(path="f", size=-1, digest=DIGEST), "negative size"),
        (pb.ArtifactLogged(path="f", size=1, digest=DIGEST.upper()), "SHA-256"),
    ],
)
def test_invalid_artifact_events_are_rejected(payload: pb.ArtifactLogged, reason: str) -> None:
    with pytest.raises(InvalidEvent, match="invalid artifact_logged") as raised:
        decode(envelope(payload).SerializeToString())
    assert reason in raised.value.reason


def test_needs_a_run_aggregate_and_a_time() -> None:
    env = envelope(events.artifact_logged("f", 1, DIGEST))
    env.aggregate_type = pb.AGGREGATE_TYPE_EXPERIMENT
    with pytest.raises(InvalidEvent, match="AGGREGATE_TYPE_RUN"):
        decode(env.SerializeToString())
    timeless = envelope(events.artifact_logged("f", 1, DIGEST), occurred=False)
    with pytest.raises(InvalidEvent, match="occurred_at"):
        decode(timeless.SerializeToString())


def test_an_old_event_with_the_reserved_is_dir_field_is_read_as_a_file() -> None:
    # ArtifactLogged's field 4 was `bool is_dir` (always false); it is reserved now.
    payload = events.artifact_logged("f", 1, DIGEST)
    with_is_dir = pb.ArtifactLogged.FromString(payload.SerializeToString() + b"\x20\x01")
    env = decode(envelope(with_is_dir).SerializeToString())
    assert project(env) == project(envelope(payload))
