"""With authentication on, only an admin may record an import's creation time and user
(CreateRegisteredModel / CreateModelVersion's created_at and user_id); anyone else is
refused with PERMISSION_DENIED naming the field, and nothing is written."""

from __future__ import annotations

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
