"""With authentication on, only an admin may record an import's times, user and stage
(CreateRegisteredModel / CreateModelVersion's created_at, user_id and stage, the later
writes' occurred_at); anyone else is refused with PERMISSION_DENIED naming the field, and
nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.e2e.pipeline import Pipeline
from tests.query.auth.conftest import client_as, make_user
from tracklog.registry.errors import NotFound, PermissionDenied

CREATED_MS = 1_600_000_000_000


def test_only_an_admin_backdates(
    pipeline: Pipeline, pg: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = client_as(make_user(pg, "alice"), pipeline.address, monkeypatch)
    root = client_as(make_user(pg, "root", admin=True), pipeline.address, monkeypatch)
    with alice, root:
        with pytest.raises(PermissionDenied, match="only an admin may set created_at"):
            alice.create_registered_model("fraud", created_ms=CREATED_MS)
        with pytest.raises(NotFound):
            root.get_registered_model("fraud")
        alice.create_registered_model("fraud")  # alice holds MANAGE on it
        with pytest.raises(PermissionDenied, match="only an admin may set created_at"):
            alice.create_model_version("fraud", "runs:/r1/model", created_ms=CREATED_MS)
        with pytest.raises(PermissionDenied, match="only an admin may set user_id"):
            alice.create_model_version("fraud", "runs:/r1/model", user_id="bob")
        assert alice.search_model_versions("name = 'fraud'") == []

        imported = root.create_registered_model("imported", created_ms=CREATED_MS)
        assert imported.creation_timestamp == CREATED_MS
        version = root.create_model_version(
            "imported", "runs:/r1/model", created_ms=CREATED_MS + 1, user_id="bob"
        )
        assert (version.creation_timestamp, version.user_id) == (CREATED_MS + 1, "bob")
        # the creator's MANAGE goes to the caller, not to the recorded user
        root.set_registered_model_tag("imported", "team", "risk")
        live = root.create_model_version("imported", "runs:/r2/model")
        assert live.user_id == "root"


def test_only_an_admin_stamps_an_imports_later_writes(
    pipeline: Pipeline, pg: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """occurred_at on a later write (a tag, a stage, an alias, a status, a description, a
    deletion) and a version's stage at creation are an import's, as created_at is."""
    alice = client_as(make_user(pg, "alice"), pipeline.address, monkeypatch)
    root = client_as(make_user(pg, "root", admin=True), pipeline.address, monkeypatch)
    with alice, root:
        alice.create_registered_model("fraud")  # alice holds MANAGE on it
        alice.create_model_version("fraud", "runs:/r1/model")
        at = CREATED_MS
        refused: list[Callable[[], object]] = [
            lambda: alice.set_registered_model_tag("fraud", "team", "risk", occurred_ms=at),
            lambda: alice.update_registered_model("fraud", "d", occurred_ms=at),
            lambda: alice.set_model_version_tag("fraud", 1, "k", "v", occurred_ms=at),
            lambda: alice.transition_model_version_stage("fraud", 1, "Staging", occurred_ms=at),
            lambda: alice.set_registered_model_alias("fraud", "champion", 1, occurred_ms=at),
            lambda: alice.update_model_version("fraud", 1, "d", occurred_ms=at),
            lambda: alice.delete_model_version("fraud", 1, occurred_ms=at),
        ]
        for call in refused:
            with pytest.raises(PermissionDenied, match="only an admin may set occurred_at"):
                call()
        with pytest.raises(PermissionDenied, match="only an admin may set stage"):
            alice.create_model_version("fraud", "runs:/r2/model", stage="Production")
        with pytest.raises(PermissionDenied, match="only an admin may set user_id"):
            alice.create_model_version("fraud", "runs:/r2/model", user_id="")
        model = alice.get_registered_model("fraud")
        assert (model.tags, model.description, model.aliases) == ({}, "", {})
        [version] = alice.search_model_versions("name = 'fraud'")
        assert (version.current_stage, version.tags) == ("None", {})

        root.create_registered_model("imported", created_ms=CREATED_MS)
        made = root.create_model_version(
            "imported", "runs:/r1/model", created_ms=CREATED_MS, user_id="", stage="Production"
        )
        assert (made.current_stage, made.user_id) == ("Production", "")
        root.set_registered_model_alias("imported", "champion", 1, occurred_ms=CREATED_MS + 1)
        assert root.get_registered_model("imported").last_updated_timestamp == CREATED_MS + 1
