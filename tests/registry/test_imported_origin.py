"""An import's creation times, users and statuses (CreateRegisteredModel and
CreateModelVersion's created_at and user_id, a pending version's status) through the
pipeline with authentication off, and later live changes winning over a backdated
creation (last-writer-wins keys on the event's time)."""

from __future__ import annotations

import time

import pytest

from tracklog import RegistryClient
from tracklog.registry.errors import FailedPrecondition, InvalidArgument

CREATED_MS = 1_600_000_000_000  # 2020-09-13


def test_a_backdated_model_and_version_keep_their_time_and_user(client: RegistryClient) -> None:
    model = client.create_registered_model(
        "imported", {"team": "risk"}, "old", created_ms=CREATED_MS
    )
    assert model.creation_timestamp == CREATED_MS
    assert model.last_updated_timestamp == CREATED_MS
    version = client.create_model_version(
        "imported", "runs:/r1/model", tags={"k": "v"}, created_ms=CREATED_MS + 1000, user_id="alice"
    )
    assert (version.creation_timestamp, version.last_updated_timestamp) == (
        CREATED_MS + 1000,
        CREATED_MS + 1000,
    )
    assert version.user_id == "alice"
    # without them: now and the caller
    before = int(time.time() * 1000) - 5000
    live = client.create_model_version("imported", "runs:/r2/model")
    assert live.creation_timestamp >= before
    assert live.user_id != "alice"


def test_live_changes_after_a_backdated_creation_win(client: RegistryClient) -> None:
    client.create_registered_model("won", {"team": "risk"}, "imported", created_ms=CREATED_MS)
    client.create_model_version(
        "won", "runs:/r1/model", tags={"k": "old"}, description="imported", created_ms=CREATED_MS
    )
    client.set_registered_model_tag("won", "team", "fraud")
    client.update_registered_model("won", "live")
    client.set_model_version_tag("won", 1, "k", "new")
    client.update_model_version("won", 1, "live")
    client.delete_registered_model_tag("won", "team")
    model = client.get_registered_model("won")
    assert (model.tags, model.description) == ({}, "live")
    assert model.creation_timestamp == CREATED_MS
    assert model.last_updated_timestamp > CREATED_MS
    version = client.get_model_version("won", 1)
    assert (version.tags, version.description) == ({"k": "new"}, "live")
    assert version.last_updated_timestamp > version.creation_timestamp == CREATED_MS


def test_a_creation_in_the_future_is_refused(client: RegistryClient) -> None:
    later = int(time.time() * 1000) + 3_600_000
    with pytest.raises(InvalidArgument, match="created_at is in the future"):
        client.create_registered_model("future", created_ms=later)
    client.create_registered_model("present")
    with pytest.raises(InvalidArgument, match="created_at is in the future"):
        client.create_model_version("present", "runs:/r1/model", created_ms=later)


def test_a_pending_version_ends_failed_with_its_message(client: RegistryClient) -> None:
    client.create_registered_model("statuses")
    pending = client.create_model_version("statuses", "runs:/r1/model", pending=True)
    assert pending.status == "PENDING_REGISTRATION"
    failed = client.update_model_version(
        "statuses", 1, status="FAILED_REGISTRATION", status_message="copy failed"
    )
    assert (failed.status, failed.status_message) == ("FAILED_REGISTRATION", "copy failed")
    with pytest.raises(FailedPrecondition, match="only a READY version can change stage"):
        client.transition_model_version_stage("statuses", 1, "Staging")
    ready = client.create_model_version("statuses", "runs:/r2/model", pending=True)
    done = client.update_model_version("statuses", ready.version, status="READY")
    assert done.status == "READY"


def test_an_imports_later_writes_keep_the_times_they_carry(client: RegistryClient) -> None:
    """Each write stamps the model (and a version write the version) with the time it
    carries (occurred_at), so an import's stage, tag, alias, status and description
    changes leave the other registry's last-updated times."""
    client.create_registered_model("kept", created_ms=CREATED_MS)
    client.create_model_version("kept", "runs:/r1/model", created_ms=CREATED_MS + 1000)
    moved = client.transition_model_version_stage(
        "kept", 1, "Production", occurred_ms=CREATED_MS + 2000
    )
    assert (moved.current_stage, moved.last_updated_timestamp) == ("Production", CREATED_MS + 2000)
    client.set_model_version_tag("kept", 1, "validated", "yes", occurred_ms=CREATED_MS + 2500)
    client.set_registered_model_alias("kept", "champion", 1, occurred_ms=CREATED_MS + 3000)
    client.set_registered_model_tag("kept", "team", "risk", occurred_ms=CREATED_MS + 3500)
    version = client.get_model_version("kept", 1)
    assert (version.tags, version.last_updated_timestamp) == (
        {"validated": "yes"},
        CREATED_MS + 2500,
    )
    model = client.update_registered_model("kept", "imported", occurred_ms=CREATED_MS + 4000)
    assert (model.description, model.aliases, model.tags) == (
        "imported",
        {"champion": 1},
        {"team": "risk"},
    )
    assert (model.creation_timestamp, model.last_updated_timestamp) == (
        CREATED_MS,
        CREATED_MS + 4000,
    )
    # a placeholder's deletion too
    client.create_model_version("kept", "models:/kept/2", created_ms=CREATED_MS + 5000)
    client.delete_model_version("kept", 2, occurred_ms=CREATED_MS + 5000)
    assert client.get_registered_model("kept").last_updated_timestamp == CREATED_MS + 5000
    later = int(time.time() * 1000) + 3_600_000
    with pytest.raises(InvalidArgument, match="occurred_at is in the future"):
        client.set_registered_model_tag("kept", "team", "fraud", occurred_ms=later)


def test_an_imported_version_keeps_its_stage_status_and_no_user(client: RegistryClient) -> None:
    """A version another registry holds in a stage while FAILED_REGISTRATION (Tracklog
    moves only READY versions) is created in that stage, pending, then failed; "" as its
    user is no user, not the caller."""
    client.create_registered_model("staged", created_ms=CREATED_MS)
    made = client.create_model_version(
        "staged",
        "runs:/r1/model",
        pending=True,
        created_ms=CREATED_MS + 1000,
        user_id="",
        stage="Staging",
    )
    assert (made.current_stage, made.status, made.user_id) == (
        "Staging",
        "PENDING_REGISTRATION",
        "",
    )
    failed = client.update_model_version(
        "staged",
        1,
        status="FAILED_REGISTRATION",
        status_message="copy failed",
        occurred_ms=CREATED_MS + 2000,
    )
    assert (failed.current_stage, failed.status, failed.status_message) == (
        "Staging",
        "FAILED_REGISTRATION",
        "copy failed",
    )
    assert (failed.user_id, failed.last_updated_timestamp) == ("", CREATED_MS + 2000)
    history = client.get_model_version_history("staged", 1)
    assert [(e.from_value, e.to_value) for e in history] == [("None", "Staging")]
    assert client.get_latest_versions("staged", ["Staging"])[0].version == 1
