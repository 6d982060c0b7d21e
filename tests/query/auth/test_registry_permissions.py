"""RegistryService with authentication on, through the whole pipeline (the SDK's
RegistryClient sends TRACKLOG_TOKEN): READ, EDIT and MANAGE on a registered model, each
allowed and refused; the creator's MANAGE; filtered searches; the recorded actor is the
authenticated user, whatever the request says."""

from __future__ import annotations

from typing import Any

import grpc
import psycopg
import pytest

from tests.e2e.pipeline import Pipeline
from tests.query.auth.conftest import client_as, failure, grant_model, make_user
from tracklog.contract.channels import open_channel
from tracklog.contract.settings import AuthSettings
from tracklog.query.auth.permissions import Permission
from tracklog.registry.errors import PermissionDenied, RegistryError, Unauthenticated
from tracklog.v1 import registry_pb2, registry_pb2_grpc


def test_read_edit_and_manage_on_a_registered_model(
    pipeline: Pipeline, pg: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    address = pipeline.address
    alice = client_as(make_user(pg, "alice"), address, monkeypatch)
    bob_token = make_user(pg, "bob")
    bob = client_as(bob_token, address, monkeypatch)
    carol = client_as(make_user(pg, "carol"), address, monkeypatch)
    root = client_as(make_user(pg, "root", admin=True), address, monkeypatch)
    with alice, bob, carol, root:
        alice.create_registered_model("fraud")  # alice now holds MANAGE on it
        alice.create_model_version("fraud", "s3://models/fraud/1")
        alice.create_model_version("fraud", "s3://models/fraud/2")

        # READ (the default): bob reads, may not edit
        assert bob.get_registered_model("fraud").name == "fraud"
        assert bob.get_model_version("fraud", 1).version == 1
        with pytest.raises(PermissionDenied, match="'bob' needs EDIT on registered model 'fraud'"):
            bob.set_registered_model_tag("fraud", "team", "risk")
        with pytest.raises(RegistryError, match="needs EDIT"):
            bob.transition_model_version_stage("fraud", 1, "Production")

        # EDIT: bob changes the model, may not delete
        grant_model(pg, "bob", "fraud", Permission.EDIT)
        bob.set_registered_model_tag("fraud", "team", "risk")
        bob.transition_model_version_stage("fraud", 1, "Staging")
        with pytest.raises(RegistryError, match="needs MANAGE"):
            bob.delete_model_version("fraud", 2)

        # MANAGE: bob deletes
        grant_model(pg, "bob", "fraud", Permission.MANAGE)
        bob.delete_model_version("fraud", 2)

        # NO_PERMISSIONS: carol neither reads nor finds it; an admin sees everything
        grant_model(pg, "carol", "fraud", Permission.NO_PERMISSIONS)
        with pytest.raises(RegistryError, match="'carol' needs READ"):
            carol.get_registered_model("fraud")
        assert [m.name for m in carol.search_registered_models()] == []
        assert [v.version for v in carol.search_model_versions("name = 'fraud'")] == []
        assert [m.name for m in bob.search_registered_models()] == ["fraud"]
        grant_model(pg, "root", "fraud", Permission.NO_PERMISSIONS)
        assert [v.version for v in root.search_model_versions("name = 'fraud'")] == [1]

        # the creator's MANAGE: alice deletes the model; its grants go with it
        alice.delete_registered_model("fraud")
        assert pg.execute("SELECT count(*) FROM registered_model_permissions").fetchone() == (0,)


def test_the_actor_is_the_authenticated_user(
    pipeline: Pipeline, pg: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = make_user(pg, "bob")
    with client_as(token, pipeline.address, monkeypatch) as bob:
        bob.create_registered_model("churn")
        bob.create_model_version("churn", "s3://models/churn/1")
    channel = open_channel(pipeline.address, auth=AuthSettings(token=token))
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    forged = registry_pb2.SetRegisteredModelAliasRequest(
        name="churn", alias="champion", version=1, actor="mallory"
    )
    stub.SetRegisteredModelAlias(forged, timeout=30)
    history = stub.GetModelVersionHistory(
        registry_pb2.GetModelVersionHistoryRequest(name="churn"), timeout=30
    )
    assert [(e.alias, e.actor) for e in history.entries] == [("champion", "bob")]
    anonymous = registry_pb2_grpc.RegistryServiceStub(
        open_channel(pipeline.address, auth=AuthSettings())
    )
    refused = failure(
        lambda: anonymous.GetRegisteredModel(registry_pb2.GetRegisteredModelRequest(name="churn"))
    )
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    channel.close()
    forger = client_as("tlk_forged", pipeline.address, monkeypatch)
    with forger, pytest.raises(Unauthenticated, match="not valid or has been revoked"):
        forger.get_registered_model("churn")
