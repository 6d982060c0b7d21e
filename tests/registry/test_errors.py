"""Every registry error reaches the caller with its gRPC status code and a clear message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from tests.e2e.pipeline import Pipeline
from tracklog import RegistryClient
from tracklog.registry import errors
from tracklog.v1 import events_pb2, registry_pb2_grpc
from tracklog.v1 import registry_pb2 as r

pytestmark = pytest.mark.integration

NOT_FOUND = grpc.StatusCode.NOT_FOUND
EXISTS = grpc.StatusCode.ALREADY_EXISTS
INVALID = grpc.StatusCode.INVALID_ARGUMENT
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION

CASES: list[tuple[str, Any, grpc.StatusCode, str]] = [
    (
        "GetRegisteredModel",
        r.GetRegisteredModelRequest(name="nope"),
        NOT_FOUND,
        "registered model 'nope' not found",
    ),
    (
        "CreateRegisteredModel",
        r.CreateRegisteredModelRequest(name="fraud"),
        EXISTS,
        "registered model 'fraud' already exists",
    ),
    (
        "CreateRegisteredModel",
        r.CreateRegisteredModelRequest(name="a/b"),
        INVALID,
        "registered model name 'a/b' contains '/'",
    ),
    (
        "RenameRegisteredModel",
        r.RenameRegisteredModelRequest(name="fraud", new_name="churn"),
        EXISTS,
        "registered model 'churn' already exists",
    ),
    (
        "RenameRegisteredModel",
        r.RenameRegisteredModelRequest(name="nope", new_name="x"),
        NOT_FOUND,
        "registered model 'nope' not found",
    ),
    (
        "CreateModelVersion",
        r.CreateModelVersionRequest(name="nope", source="s3://x"),
        NOT_FOUND,
        "registered model 'nope' not found",
    ),
    (
        "GetModelVersion",
        r.GetModelVersionRequest(name="fraud", version=7),
        NOT_FOUND,
        "version 7 of registered model 'fraud' not found",
    ),
    (
        "DeleteModelVersion",
        r.DeleteModelVersionRequest(name="fraud", version=7),
        NOT_FOUND,
        "version 7 of registered model 'fraud' not found",
    ),
    (
        "TransitionModelVersionStage",
        r.TransitionModelVersionStageRequest(name="fraud", version=1, stage="Prod"),
        INVALID,
        "invalid stage 'Prod'",
    ),
    (
        "TransitionModelVersionStage",
        r.TransitionModelVersionStageRequest(
            name="fraud", version=1, stage="Archived", archive_existing_versions=True
        ),
        INVALID,
        "archive_existing_versions is only allowed",
    ),
    (
        "TransitionModelVersionStage",
        r.TransitionModelVersionStageRequest(name="fraud", version=2, stage="Staging"),
        PRECONDITION,
        "is PENDING_REGISTRATION; only a READY version can change stage",
    ),
    (
        "GetLatestVersions",
        r.GetLatestVersionsRequest(name="fraud", stages=["live"]),
        INVALID,
        "invalid stage 'live'",
    ),
    (
        "SetRegisteredModelAlias",
        r.SetRegisteredModelAliasRequest(name="fraud", alias="latest", version=1),
        INVALID,
        "alias 'latest' is reserved",
    ),
    (
        "SetRegisteredModelAlias",
        r.SetRegisteredModelAliasRequest(name="fraud", alias="v2", version=1),
        INVALID,
        "alias 'v2' is reserved",
    ),
    (
        "SetRegisteredModelAlias",
        r.SetRegisteredModelAliasRequest(name="fraud", alias="bad alias", version=1),
        INVALID,
        "only letters, digits",
    ),
    (
        "SetRegisteredModelAlias",
        r.SetRegisteredModelAliasRequest(name="fraud", alias="champion", version=9),
        NOT_FOUND,
        "version 9 of registered model 'fraud' not found",
    ),
    (
        "DeleteRegisteredModelAlias",
        r.DeleteRegisteredModelAliasRequest(name="fraud", alias="champion"),
        NOT_FOUND,
        "registered model 'fraud' has no alias 'champion'",
    ),
    (
        "GetModelVersionByAlias",
        r.GetModelVersionByAliasRequest(name="fraud", alias="champion"),
        NOT_FOUND,
        "registered model 'fraud' has no alias 'champion'",
    ),
    (
        "UpdateModelVersion",
        r.UpdateModelVersionRequest(
            name="fraud", version=1, status=events_pb2.MODEL_VERSION_STATUS_READY
        ),
        PRECONDITION,
        "only a PENDING_REGISTRATION version's status can change",
    ),
    (
        "SearchRegisteredModels",
        r.SearchRegisteredModelsRequest(filter="name ~ 'x'"),
        INVALID,
        "invalid filter",
    ),
    (
        "SearchModelVersions",
        r.SearchModelVersionsRequest(page_token="garbage"),
        INVALID,
        "invalid page_token",
    ),
    (
        "GetModelVersionHistory",
        r.GetModelVersionHistoryRequest(name="nope"),
        NOT_FOUND,
        "registered model 'nope' not found",
    ),
]


def test_every_error_has_its_status_and_names_the_problem(
    pipeline: Pipeline, client: RegistryClient
) -> None:
    client.create_registered_model("fraud")
    client.create_registered_model("churn")
    client.create_model_version("fraud", "s3://m/1")
    channel = grpc.insecure_channel(pipeline.address)
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    client._registry.CreateModelVersion(
        r.CreateModelVersionRequest(name="fraud", source="s3://m/2", pending=True)
    )
    failures = []
    for method, request, code, message in CASES:
        call: Callable[..., Any] = getattr(stub, method)
        with pytest.raises(grpc.RpcError) as caught:
            call(request, timeout=30)
        error: Any = caught.value
        if error.code() != code or message not in error.details():
            failures.append((method, error.code(), error.details()))
    channel.close()
    assert failures == []


def test_the_sdk_raises_registry_errors_by_status(client: RegistryClient) -> None:
    client.create_registered_model("fraud")
    with pytest.raises(errors.AlreadyExists, match="'fraud' already exists"):
        client.create_registered_model("fraud")
    with pytest.raises(errors.NotFound, match="'nope' not found") as caught:
        client.get_model_version("nope", 1)
    assert isinstance(caught.value.__cause__, grpc.RpcError)
    with pytest.raises(errors.InvalidArgument, match="reserved"):
        client.set_registered_model_alias("fraud", "latest", 1)
    with pytest.raises(errors.NotFound, match="'fraud' has no version in stage Production"):
        client.resolve_model_uri("models:/fraud/Production")
    with pytest.raises(errors.InvalidArgument, match="not a models:/ URI"):
        client.resolve_model_uri("s3://bucket/model")
