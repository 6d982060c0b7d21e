"""Idempotent registry writes (issue 12, item 5): a write's request_id names the call, so a
retry (after a timeout, a lost answer) gets the first outcome and writes nothing again:
the same version number, no second version, one stage transition. The SDK mints the id
and keeps it on its own retries."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import grpc
import psycopg
import pytest

from tests.e2e.pipeline import Pipeline
from tracklog import RegistryClient
from tracklog.query.registry.writes import event_id_for
from tracklog.v1 import events_pb2 as pb
from tracklog.v1 import registry_pb2 as r
from tracklog.v1 import registry_pb2_grpc

pytestmark = pytest.mark.integration


@pytest.fixture
def stub(pipeline: Pipeline) -> Any:
    channel = grpc.insecure_channel(pipeline.address)
    yield registry_pb2_grpc.RegistryServiceStub(channel)
    channel.close()


def new_model(stub: Any, name: str) -> None:
    stub.CreateRegisteredModel(r.CreateRegisteredModelRequest(name=name), timeout=30)


def versions(stub: Any, name: str) -> list[int]:
    found = stub.SearchModelVersions(r.SearchModelVersionsRequest(filter=f"name = '{name}'"))
    return [v.version for v in found.model_versions]


def test_a_retried_create_model_version_returns_the_same_version(stub: Any) -> None:
    new_model(stub, "churn")
    request = r.CreateModelVersionRequest(
        name="churn", source="s3://m/1", actor="ann", request_id=str(uuid.uuid4())
    )
    first = stub.CreateModelVersion(request, timeout=30).model_version
    again = stub.CreateModelVersion(request, timeout=30).model_version
    assert first.version == again.version == 1
    assert versions(stub, "churn") == [1]
    other = r.CreateModelVersionRequest(name="churn", source="s3://m/1", actor="ann")
    assert stub.CreateModelVersion(other, timeout=30).model_version.version == 2  # no id: new


def test_concurrent_retries_of_one_create_make_one_version(stub: Any) -> None:
    new_model(stub, "fraud")
    request = r.CreateModelVersionRequest(
        name="fraud", source="s3://m/f", actor="bo", request_id=uuid.uuid4().hex
    )
    got: list[int] = []
    lock = threading.Lock()

    def create() -> None:
        version = stub.CreateModelVersion(request, timeout=30).model_version.version
        with lock:
            got.append(version)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert got == [1, 1, 1, 1]
    assert versions(stub, "fraud") == [1]


def test_a_retried_stage_transition_is_applied_once(stub: Any, pipeline: Pipeline) -> None:
    new_model(stub, "ranker")
    create = r.CreateModelVersionRequest(name="ranker", source="s3://m/r", actor="cy")
    stub.CreateModelVersion(create, timeout=30)
    move = r.TransitionModelVersionStageRequest(
        name="ranker", version=1, stage="Production", actor="cy", request_id=str(uuid.uuid4())
    )
    stub.TransitionModelVersionStage(move, timeout=30)
    back = r.TransitionModelVersionStageRequest(
        name="ranker", version=1, stage="Staging", actor="cy"
    )
    stub.TransitionModelVersionStage(back, timeout=30)
    retried = stub.TransitionModelVersionStage(move, timeout=30).model_version
    # the retry answers the version as it is now, and does not move it back to Production
    assert retried.current_stage == pb.MODEL_VERSION_STAGE_STAGING
    history = stub.GetModelVersionHistory(
        r.GetModelVersionHistoryRequest(name="ranker", version=1)
    ).entries
    assert [(e.from_value, e.to_value) for e in history] == [
        ("None", "Production"),
        ("Production", "Staging"),
    ]
    with psycopg.connect(pipeline.settings.postgres_dsn) as conn:
        stage = conn.execute("SELECT current_stage FROM model_versions").fetchone()
    assert stage == ("Staging",)


def test_a_request_id_must_be_a_uuid(stub: Any) -> None:
    new_model(stub, "bad-id")
    request = r.SetRegisteredModelTagRequest(name="bad-id", key="k", value="v", request_id="x1")
    with pytest.raises(grpc.RpcError) as raised:
        stub.SetRegisteredModelTag(request, timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request_id" in (raised.value.details() or "")


def test_event_ids_are_per_call_and_caller() -> None:
    rid = uuid.uuid4()
    ids = {
        event_id_for(str(rid), "CreateVersion", "ann"),
        event_id_for(rid.hex, "CreateVersion", "ann"),  # the same UUID spelled otherwise
        event_id_for(str(rid).upper(), "CreateVersion", "ann"),
    }
    assert len(ids) == 1 and len(ids.pop()) == 32
    assert event_id_for(rid.hex, "CreateVersion", "bo") != event_id_for(
        rid.hex, "CreateVersion", "ann"
    )
    assert event_id_for(rid.hex, "TransitionStage", "ann") != event_id_for(
        rid.hex, "CreateVersion", "ann"
    )
    assert event_id_for("", "CreateVersion", "ann") != event_id_for("", "CreateVersion", "ann")


class LoseFirstAnswer:
    """A stub method whose first answer is lost: the call happens, the client sees
    UNAVAILABLE (as after a dropped connection) and retries."""

    def __init__(self, method: Any) -> None:
        self._method = method
        self.requests: list[Any] = []

    def __call__(self, request: Any, timeout: float | None = None) -> Any:
        self.requests.append(type(request).FromString(request.SerializeToString()))
        reply = self._method(request, timeout=timeout)
        if len(self.requests) == 1:
            raise Lost()
        return reply


class Lost(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "connection reset (test)"

    def initial_metadata(self) -> Any:
        return None

    def trailing_metadata(self) -> Any:
        return None

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float:
        return 0.0

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


def test_the_sdk_retries_a_lost_answer_with_the_same_request_id(
    client: RegistryClient, stub: Any
) -> None:
    client.create_registered_model("lost")
    lossy = LoseFirstAnswer(client._registry.CreateModelVersion)
    client._registry.CreateModelVersion = lossy  # type: ignore[assignment]
    version = client.create_model_version("lost", "s3://m/lost")
    assert version.version == 1
    assert versions(stub, "lost") == [1]
    first, second = lossy.requests
    assert first.request_id and first.request_id == second.request_id
    client._registry.CreateModelVersion = lossy._method
    assert client.create_model_version("lost", "s3://m/lost").version == 2  # a new call
