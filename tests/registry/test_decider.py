"""The decider: command + state -> event, or the domain error naming the problem."""

from __future__ import annotations

import pytest

from tracklog.registry import commands as c
from tracklog.registry.decider import decide
from tracklog.registry.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from tracklog.v1 import events_pb2 as pb

MODEL = c.ModelState(
    "m1",
    "fraud",
    versions={
        1: c.VersionState(1, "Production", "READY"),
        2: c.VersionState(2, "None", "READY"),
        3: c.VersionState(3, "None", "PENDING_REGISTRATION"),
    },
    aliases={"champion": 1},
    tag_keys=frozenset({"team"}),
)


def test_create_model() -> None:
    event = decide(c.CreateModel("fraud", "m1", "d", (("team", "risk"),), "ana"), None)
    # who asked ("ana") travels on the envelope (RegistryWrites.submit), not in the payload
    assert event == pb.RegisteredModelCreated(
        name="fraud", description="d", tags=[pb.Tag(key="team", value="risk")]
    )
    with pytest.raises(AlreadyExists, match="registered model 'fraud' already exists"):
        decide(c.CreateModel("fraud", "m1"), MODEL)
    with pytest.raises(InvalidArgument, match="duplicate tag keys"):
        decide(c.CreateModel("x", "m2", tags=(("a", "1"), ("a", "2"))), None)


def test_versions_carry_no_number_and_start_ready_or_pending() -> None:
    event = decide(c.CreateVersion("fraud", "s3://m", "run1"), MODEL)
    assert isinstance(event, pb.ModelVersionCreated)
    assert event.status == pb.MODEL_VERSION_STATUS_READY
    pending = decide(c.CreateVersion("fraud", "s3://m", pending=True), MODEL)
    assert isinstance(pending, pb.ModelVersionCreated)
    assert pending.status == pb.MODEL_VERSION_STATUS_PENDING_REGISTRATION
    with pytest.raises(InvalidArgument, match="source must not be empty"):
        decide(c.CreateVersion("fraud", ""), MODEL)


def test_an_imported_version_may_start_in_a_stage_whatever_its_status() -> None:
    staged = decide(c.CreateVersion("fraud", "s3://m", pending=True, stage="production"), MODEL)
    assert isinstance(staged, pb.ModelVersionCreated)
    assert staged.stage == pb.MODEL_VERSION_STAGE_PRODUCTION
    assert staged.status == pb.MODEL_VERSION_STATUS_PENDING_REGISTRATION
    live = decide(c.CreateVersion("fraud", "s3://m"), MODEL)
    assert isinstance(live, pb.ModelVersionCreated)
    assert live.stage == pb.MODEL_VERSION_STAGE_UNSPECIFIED  # None
    with pytest.raises(InvalidArgument, match="invalid stage 'Shipped'"):
        decide(c.CreateVersion("fraud", "s3://m", stage="Shipped"), MODEL)


def test_a_version_records_the_logged_model_it_comes_from() -> None:
    given = decide(c.CreateVersion("fraud", "s3://m", logged_model_id="m-abc"), MODEL)
    assert isinstance(given, pb.ModelVersionCreated) and given.logged_model_id == "m-abc"
    implied = decide(c.CreateVersion("fraud", "models:/m-def"), MODEL)
    assert isinstance(implied, pb.ModelVersionCreated) and implied.logged_model_id == "m-def"
    for source in ("models:/fraud/1", "models:/fraud@champion", "runs:/r1/model", "s3://m"):
        other = decide(c.CreateVersion("fraud", source), MODEL)
        assert isinstance(other, pb.ModelVersionCreated) and other.logged_model_id == "", source


def test_unknown_models_and_versions_are_not_found() -> None:
    with pytest.raises(NotFound, match="registered model 'nope' not found"):
        decide(c.DeleteModel("nope"), None)
    with pytest.raises(NotFound, match="version 9 of registered model 'fraud' not found"):
        decide(c.SetAlias("fraud", "champion", 9), MODEL)
    with pytest.raises(NotFound, match="no alias 'gone'"):
        decide(c.DeleteAlias("fraud", "gone"), MODEL)
    with pytest.raises(NotFound, match="no tag 'nope'"):
        decide(c.DeleteModelTag("fraud", "nope"), MODEL)


def test_rename_to_a_taken_name_fails() -> None:
    with pytest.raises(AlreadyExists, match="'other' already exists"):
        decide(c.RenameModel("fraud", "other"), MODEL, name_taken=True)
    assert decide(c.RenameModel("fraud", "fraud-v2"), MODEL) == pb.RegisteredModelRenamed(
        new_name="fraud-v2"
    )


def test_transitions() -> None:
    event = decide(c.TransitionStage("fraud", 2, "production", True, "ana"), MODEL)
    assert event == pb.ModelVersionStageTransitioned(
        version=2,
        stage=pb.MODEL_VERSION_STAGE_PRODUCTION,
        archive_existing_versions=True,
    )
    with pytest.raises(InvalidArgument, match="invalid stage 'prod'"):
        decide(c.TransitionStage("fraud", 2, "prod"), MODEL)
    with pytest.raises(InvalidArgument, match="archive_existing_versions is only allowed"):
        decide(c.TransitionStage("fraud", 2, "Archived", True), MODEL)
    # as in MLflow, moving a version to the stage it is in is allowed (and audited)
    same = decide(c.TransitionStage("fraud", 1, "Production"), MODEL)
    assert isinstance(same, pb.ModelVersionStageTransitioned)
    assert same.stage == pb.MODEL_VERSION_STAGE_PRODUCTION
    with pytest.raises(FailedPrecondition, match="is PENDING_REGISTRATION"):
        decide(c.TransitionStage("fraud", 3, "Staging"), MODEL)


def test_status_changes_only_from_pending() -> None:
    event = decide(c.UpdateVersion("fraud", 3, status="READY"), MODEL)
    assert event == pb.ModelVersionStatusChanged(version=3, status=pb.MODEL_VERSION_STATUS_READY)
    with pytest.raises(FailedPrecondition, match="only a PENDING_REGISTRATION"):
        decide(c.UpdateVersion("fraud", 1, status="FAILED_REGISTRATION"), MODEL)
    with pytest.raises(InvalidArgument, match="needs a description or a status"):
        decide(c.UpdateVersion("fraud", 1), MODEL)


def test_aliases_follow_mlflow_rules() -> None:
    assert decide(c.SetAlias("fraud", "champion", 2), MODEL) == pb.RegisteredModelAliasSet(
        alias="champion", version=2
    )
    with pytest.raises(InvalidArgument, match="reserved"):
        decide(c.SetAlias("fraud", "latest", 2), MODEL)
    with pytest.raises(InvalidArgument, match="reserved"):
        decide(c.SetAlias("fraud", "v3", 2), MODEL)
