"""Which experiment id a name resolves to: asked of the query service, else derived.

`resolve(name)` asks the query service (`GetExperiment(name)`) first: an experiment
that holds the name (also one renamed to it) is used as it is; a deleted one raises
like MLflow ("restore it or use another name"). A name nobody holds gets
`uuid5(name)` (so two processes creating it at once resolve to one experiment) or,
when a renamed experiment already owns that id, `uuid5(name + "#2")`, "#3", ...
When the service cannot be reached, the id is `uuid5(name)` without further checks
(`tracklog.deployment.Deployment.resolve`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc

from tracklog.contract.ids import experiment_id_for
from tracklog.v1 import query_pb2, query_pb2_grpc, tracking_pb2

LOOKUP_TIMEOUT_SECONDS = 2.0
MAX_SUFFIX = 100


class ExperimentDeletedError(ValueError):
    """The name belongs to a deleted experiment."""


@dataclass(frozen=True, slots=True)
class Resolved:
    experiment_id: str
    exists: bool  # the query service already holds it (no ExperimentCreated needed)
    artifact_location: str = ""  # recorded when it was created (when it exists)


def _get(stub: query_pb2_grpc.QueryServiceStub, timeout: float, **selector: str) -> Any:
    try:
        return stub.GetExperiment(
            query_pb2.GetExperimentRequest(**selector), timeout=timeout
        ).experiment
    except grpc.RpcError as error:
        if isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise


def resolve_with(
    stub: query_pb2_grpc.QueryServiceStub, name: str, timeout: float = LOOKUP_TIMEOUT_SECONDS
) -> Resolved:
    """Resolve through ``stub``; grpc.RpcError when the service does not answer."""
    held = _get(stub, timeout, name=name)
    if held is not None:
        if held.lifecycle_stage == tracking_pb2.LIFECYCLE_STAGE_DELETED:
            raise ExperimentDeletedError(
                f"experiment {name!r} is deleted; restore it or use another name"
            )
        return Resolved(held.experiment_id, True, held.artifact_location)
    for n in range(1, MAX_SUFFIX + 1):
        candidate = experiment_id_for(name if n == 1 else f"{name}#{n}")
        if _get(stub, timeout, experiment_id=candidate) is None:
            return Resolved(candidate, False)
    raise ValueError(f"no free experiment id for {name!r} after {MAX_SUFFIX} tries")
