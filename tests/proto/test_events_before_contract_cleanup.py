"""Events written before issue 11's contract cleanup still decode and project as they did.

samples/events_before_contract_cleanup.b64 holds one envelope of every payload kind as
the code at commit 38c9552 serialized them (the registry's actor inside each payload,
ArtifactLogged's is_dir, the SDK's per-aggregate sequence, no producer_session), and
samples/events_before_contract_cleanup.expected what that code's projectors made of
each. Both were written by samples/write_events_before_contract_cleanup.py in commit
e05cee5 (removed after: it builds events with the old contract). The archive keeps such
events forever and a replay reads them again, so the current decoder must accept every
one and the projectors must produce the same rows (the registry's actor included).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tracklog.ingest.decode.envelope import decode
from tracklog.ingest.projectors import clickhouse, postgres
from tracklog.v1 import events_pb2 as pb

SAMPLES = Path(__file__).resolve().parent / "samples"
STORED = [
    base64.b64decode(line)
    for line in (SAMPLES / "events_before_contract_cleanup.b64").read_text().splitlines()
]
EXPECTED = (SAMPLES / "events_before_contract_cleanup.expected").read_text().splitlines()


def test_the_sample_holds_every_payload_kind() -> None:
    kinds = {pb.Envelope.FromString(value).WhichOneof("payload") for value in STORED}
    assert kinds == {f.name for f in pb.Envelope.DESCRIPTOR.oneofs_by_name["payload"].fields}
    assert len(STORED) == len(EXPECTED)


def as_recorded(points: clickhouse.MetricPoints | None) -> str:
    """Metric points written the way the old projector's MetricPoints printed (one tuple per
    column, the run and position repeated per point), so the recorded lines still compare
    now that the projector keeps a record's points as numpy columns."""
    if points is None:
        return "None"
    names = ("run_id", "key", "step", "timestamp_ms", "value", "topic", "partition", "offset")
    columns = zip(*points.rows(), strict=True) if len(points) else ((),) * len(names)
    fields = ", ".join(f"{name}={column!r}" for name, column in zip(names, columns, strict=True))
    return f"MetricPoints({fields})"


@pytest.mark.parametrize("offset", range(len(STORED)))
def test_a_stored_event_projects_as_before(offset: int) -> None:
    envelope = decode(STORED[offset])
    rows = postgres.project(envelope)
    points = as_recorded(clickhouse.project(envelope, "log", 0, offset))
    assert f"({rows!r}, {points})" == EXPECTED[offset]
