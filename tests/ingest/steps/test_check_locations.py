"""CheckLocations: events naming an artifact location outside the roots are rejected."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from tests.ingest.events import experiment_created, run_started
from tests.ingest.steps.recording_step import LOG, RecordingStep
from tracklog.contract.settings import ArtifactRootSettings
from tracklog.ingest.batch import DecodedBatch, decode_batch
from tracklog.ingest.records import Position, Record
from tracklog.ingest.steps.check_locations import CheckLocations
from tracklog.v1 import events_pb2 as pb


def decoded(envelopes: list[pb.Envelope]) -> DecodedBatch:
    return decode_batch(
        [
            Record(Position(LOG, 0, i), e.aggregate_id.encode(), e.SerializeToString())
            for i, e in enumerate(envelopes)
        ]
    )


def located_run(run_id: str, uri: str) -> pb.Envelope:
    e = run_started(run_id, "e1")
    e.run_started.artifact_uri = uri
    return e


def located_experiment(experiment_id: str, location: str) -> pb.Envelope:
    e = experiment_created(experiment_id, experiment_id)
    e.experiment_created.artifact_location = location
    return e


def version(source: str) -> pb.Envelope:
    e = pb.Envelope(
        event_id=uuid.uuid4().hex,
        aggregate_id="model",
        aggregate_type=pb.AGGREGATE_TYPE_REGISTERED_MODEL,
        sequence=1,
    )
    e.occurred_at.FromMilliseconds(1_700_000_000_000)
    e.model_version_created.source = source
    e.model_version_created.status = pb.MODEL_VERSION_STATUS_READY
    return e


def test_forged_locations_outside_the_roots_are_rejected(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    roots = ArtifactRootSettings(root=str(root), extra=("s3://ml/tracklog",))
    events = [
        located_experiment("e1", str(root / "e1")),  # inside: kept
        located_experiment("e2", "s3://ml/tracklog/e2"),
        located_run("r1", f"{root.as_uri()}/e1/r1/artifacts"),
        located_run("r2", "file:///home/alice/.ssh"),  # forged: rejected
        located_run("r3", "s3://attacker/drop"),
        located_run("r4", f"{root}/e1/../../elsewhere"),  # traversal
        located_experiment("e3", str(tmp_path / "artifacts2")),  # a sibling, not inside
        located_run("r5", ""),  # no location: the deployment's default
        version("runs:/r1/model"),
        version("s3://attacker/model"),
        version(f"{root}/e1/r1/artifacts/model"),
    ]
    last = RecordingStep()
    CheckLocations(roots, last).submit(decoded(events))
    (batch,) = last.submitted
    kept = [e is not None for e in batch.envelopes]
    assert kept == [True, True, True, False, False, False, False, True, True, False, True]
    reasons = {r.record.position.offset: r.reason for r in batch.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 9]
    assert reasons[3].startswith("invalid run_started: artifact_uri 'file:///home/alice/.ssh'")
    assert "outside the allowed artifact roots" in reasons[4]
    assert reasons[9].startswith("invalid model_version_created: model version source")


def test_with_any_location_allowed_nothing_is_checked(tmp_path: Path) -> None:
    last = RecordingStep()
    batch = decoded([located_run("r2", "file:///home/alice/.ssh")])
    CheckLocations(ArtifactRootSettings(root=str(tmp_path), extra=("*",)), last).submit(batch)
    assert last.submitted == [batch]


def test_the_deployment_s_root_alone_is_checked(tmp_path: Path) -> None:
    last = RecordingStep()
    batch = decoded([located_run("r2", "file:///home/alice/.ssh")])
    CheckLocations(ArtifactRootSettings(root=str(tmp_path)), last).submit(batch)
    assert last.submitted != [batch]
    assert [len(b.rejected) for b in last.submitted] == [1]


def test_the_worker_warns_when_nothing_is_checked(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tracklog.ingest.steps.check_locations"):
        CheckLocations(ArtifactRootSettings(), RecordingStep())
        CheckLocations(ArtifactRootSettings(root="/data", extra=("*",)), RecordingStep())
    assert "not checked: no root is configured" in caplog.text
    assert "not checked: TRACKLOG_ARTIFACT_ROOTS is '*'" in caplog.text
