"""Registry events: decode's checks (bad ones are rejected for the dead-letter topic) and the
pure projection to RegistryOps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tracklog.contract.envelopes import envelope
from tracklog.ingest.batch import project_batch
from tracklog.ingest.decode.envelope import InvalidEvent, decode
from tracklog.ingest.projectors import postgres as projector_postgres
from tracklog.ingest.projectors import registry as projector_registry
from tracklog.ingest.projectors.registry import (
    AliasChanged,
    ModelCreated,
    RegistryOp,
    StageChanged,
    TagChanged,
    VersionCreated,
)
from tracklog.ingest.records import Position, Record
from tracklog.registry.decider import Payload
from tracklog.v1 import events_pb2 as pb

T0_NS = 1_700_000_000_000_000_000
MODEL = "a" * 32


def event(payload: Payload, model_id: str = MODEL, actor: str = "") -> pb.Envelope:
    return envelope(
        event_id=uuid.uuid4().hex,
        aggregate_id=model_id,
        occurred_ns=T0_NS,
        payload=payload,
        producer_session="s1",
        sequence=1,
        actor=actor,
    )


def test_projection_is_pure_and_typed() -> None:
    created = event(pb.RegisteredModelCreated(name="fraud", tags=[pb.Tag(key="k", value="v")]))
    op = projector_registry.project(created)
    assert op == projector_registry.project(created)
    assert op == RegistryOp(
        created.event_id,
        MODEL,
        datetime.fromtimestamp(T0_NS / 1e9, UTC),
        "",
        ModelCreated("fraud", "", (("k", "v"),)),
    )
    assert projector_postgres.project(created) == [op]


@pytest.mark.parametrize(
    ("payload", "change"),
    [
        (
            pb.ModelVersionCreated(source="s", run_id="r", status=pb.MODEL_VERSION_STATUS_READY),
            VersionCreated("s", "r", "", (), "READY"),
        ),
        (
            pb.ModelVersionCreated(
                source="s", status=pb.MODEL_VERSION_STATUS_READY, logged_model_id="m-1"
            ),
            VersionCreated("s", "", "", (), "READY", logged_model_id="m-1"),
        ),
        (  # an import's version, created in its stage whatever its status
            pb.ModelVersionCreated(
                source="s",
                status=pb.MODEL_VERSION_STATUS_FAILED_REGISTRATION,
                stage=pb.MODEL_VERSION_STAGE_PRODUCTION,
            ),
            VersionCreated("s", "", "", (), "FAILED_REGISTRATION", stage="Production"),
        ),
        (
            pb.ModelVersionStageTransitioned(
                version=2, stage=pb.MODEL_VERSION_STAGE_STAGING, archive_existing_versions=True
            ),
            StageChanged(2, "Staging", True),
        ),
        (pb.RegisteredModelAliasSet(alias="champion", version=3), AliasChanged("champion", 3)),
        (pb.RegisteredModelAliasDeleted(alias="champion"), AliasChanged("champion", None)),
        (pb.ModelVersionTagDeleted(version=1, key="k"), TagChanged(1, "k", None)),
        (pb.RegisteredModelTagSet(tag=pb.Tag(key="k", value="v")), TagChanged(None, "k", "v")),
    ],
)
def test_each_payload_becomes_its_change(payload: Payload, change: object) -> None:
    envelope_ = event(payload)
    assert decode(envelope_.SerializeToString()) == envelope_
    assert projector_registry.project(envelope_).change == change


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (pb.RegisteredModelCreated(name="a/b"), "contains '/'"),
        (pb.RegisteredModelAliasSet(alias="latest", version=1), "reserved"),
        (pb.RegisteredModelAliasSet(alias="ok", version=0), "versions start at 1"),
        (pb.ModelVersionStageTransitioned(version=1), "invalid stage number 0"),
        (pb.ModelVersionCreated(source="", status=pb.MODEL_VERSION_STATUS_READY), "empty source"),
        (pb.ModelVersionCreated(source="s"), "invalid model version status number 0"),
        (
            pb.ModelVersionCreated(
                source="s",
                status=pb.MODEL_VERSION_STATUS_READY,
                stage=9,  # type: ignore[arg-type]  # a number no stage has
            ),
            "invalid stage number 9",
        ),
    ],
)
def test_invalid_registry_events_are_rejected(payload: Payload, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode(event(payload).SerializeToString())


def test_registry_events_need_their_aggregate_type_and_time() -> None:
    wrong_type = event(pb.RegisteredModelDeleted())
    wrong_type.aggregate_type = pb.AGGREGATE_TYPE_RUN
    with pytest.raises(InvalidEvent, match="needs aggregate_type AGGREGATE_TYPE_REGISTERED_MODEL"):
        decode(wrong_type.SerializeToString())
    untimed = event(pb.RegisteredModelDeleted())
    untimed.ClearField("occurred_at")
    with pytest.raises(InvalidEvent, match="need occurred_at"):
        decode(untimed.SerializeToString())


def test_a_rejected_registry_event_keeps_its_place_without_ops() -> None:
    bad = event(pb.RegisteredModelAliasSet(alias="v1", version=1)).SerializeToString()
    record = Record(Position("t@x", 0, 5), MODEL.encode(), bad)
    batch = project_batch([record])
    assert batch.postgres == ((record.position, ()),)
    assert "reserved" in batch.rejected[0].reason
