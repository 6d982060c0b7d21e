"""Which Tracklog experiment an MLflow experiment becomes, and where its artifacts go.

MLflow's experiment id is kept when Tracklog has no experiment with it ("0", MLflow's
Default, is Tracklog's Default too). When Tracklog already holds the experiment's
name, that experiment is used (a second import, or a team that started logging to
Tracklog first: the runs join it). When the id is held by an experiment of another
name (two MLflow stores both have an experiment "1"), the id is derived from the name
as the SDK derives it (`tracklog.experiment_names`).
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from mlflow.entities import Experiment

from tracklog import experiment_names
from tracklog.contract.ids import experiment_id_for
from tracklog.contract.locations import join_uri, scheme_of
from tracklog.v1 import query_pb2, query_pb2_grpc


@dataclass(frozen=True, slots=True)
class Target:
    experiment_id: str
    exists: bool  # Tracklog already holds it (created by an earlier import or by hand)
    artifact_location: str
    kept_id: bool  # the id is MLflow's own

    def run_artifact_uri(self, run_id: str) -> str:
        return join_uri(self.artifact_location, run_id, "artifacts")

    def logged_model_location(self, model_id: str) -> str:
        """Where the SDK puts a logged model's files (tracklog.client.logged_models)."""
        return join_uri(self.artifact_location, "models", model_id, "artifacts")


def readable(uri: str) -> bool:
    """Can Tracklog's artifact stores read ``uri`` in place (a path, file:// or s3://)?"""
    return scheme_of(uri) in ("", "file", "s3")


def _held(stub: query_pb2_grpc.QueryServiceStub, **selector: str) -> query_pb2.Experiment | None:
    try:
        reply = stub.GetExperiment(query_pb2.GetExperimentRequest(**selector), timeout=30)
    except grpc.RpcError as error:
        if isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return reply.experiment


def target(
    stub: query_pb2_grpc.QueryServiceStub, source: Experiment, root: str, keep_uris: bool
) -> Target:
    """Where ``source`` goes; its artifacts under ``root`` unless ``keep_uris``."""
    location = source.artifact_location if keep_uris and readable(source.artifact_location) else ""
    held = _held(stub, name=source.name)
    if held is not None:
        kept = held.experiment_id == source.experiment_id
        where = held.artifact_location or location or join_uri(root, held.experiment_id)
        return Target(held.experiment_id, True, where, kept)
    if _held(stub, experiment_id=source.experiment_id) is None:
        eid, kept = source.experiment_id, True
    else:
        eid, kept = _derived(stub, source.name), False
    return Target(eid, False, location or join_uri(root, eid), kept)


def _derived(stub: query_pb2_grpc.QueryServiceStub, name: str) -> str:
    for n in range(1, experiment_names.MAX_SUFFIX + 1):
        candidate = experiment_id_for(name if n == 1 else f"{name}#{n}")
        if _held(stub, experiment_id=candidate) is None:
            return candidate
    raise ValueError(f"no free experiment id for {name!r}")
