"""What each RPC needs: the permission, on which resources of its request.

Modelled on MLflow's auth app: reading needs READ; changing a registered model, its
versions, tags, stages or aliases needs EDIT; deleting a registered model or a version
needs MANAGE. Any authenticated user may create a registered model (and then holds
MANAGE on it) and may call WaitFor and GetServiceInfo (they reveal no tracked data).
Searches without a named experiment (experiments, registered models, model versions)
are FILTERED: they return only what the caller may read (`permissions.readable`). The
query service serves no experiment writes (those go through Kafka), so its experiment
rules are all READ. A method missing from the table is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracklog.query.auth.grants import Need
from tracklog.query.auth.permissions import Permission

READ, EDIT, MANAGE = Permission.READ, Permission.EDIT, Permission.MANAGE

Rule = Callable[[Any], list[Need]]


def _none(request: Any) -> list[Need]:
    return []


AUTHENTICATED: Rule = _none  # any authenticated caller
FILTERED: Rule = _none  # any authenticated caller; the results are filtered


def _experiment(request: Any) -> list[Need]:
    if request.experiment_id:
        return [Need("experiment_id", (request.experiment_id,), READ)]
    return [Need("experiment_name", (request.name,), READ)]


def _experiments(request: Any) -> list[Need]:
    return [Need("experiment_id", tuple(request.experiment_ids), READ)]


def _run(request: Any) -> list[Need]:
    return [Need("run_id", (request.run_id,), READ)]


def _runs(request: Any) -> list[Need]:
    return [Need("run_id", tuple(request.run_ids), READ)]


def _logged_model(request: Any) -> list[Need]:
    return [Need("logged_model_id", (request.model_id,), READ)]


def _model(level: Permission) -> Rule:
    def needs(request: Any) -> list[Need]:
        return [Need("model_name", (request.name,), level)]

    return needs


def _new_version(request: Any) -> list[Need]:
    """EDIT on the model, and READ on the run the version comes from."""
    return [Need("model_name", (request.name,), EDIT), *_run(request)]


QUERY = "/tracklog.v1.QueryService/"
REGISTRY = "/tracklog.v1.RegistryService/"

RULES: dict[str, Rule] = {
    QUERY + "GetExperiment": _experiment,
    QUERY + "ListExperiments": FILTERED,
    QUERY + "SearchExperiments": FILTERED,
    QUERY + "GetRun": _run,
    QUERY + "SearchRuns": _experiments,
    QUERY + "GetMetricHistory": _run,
    QUERY + "StreamMetricHistory": _run,
    QUERY + "GetMetricSeries": _runs,
    QUERY + "CompareRuns": _runs,
    QUERY + "WaitFor": AUTHENTICATED,
    QUERY + "GetServiceInfo": AUTHENTICATED,
    QUERY + "GetLoggedModel": _logged_model,
    QUERY + "SearchLoggedModels": _experiments,
    QUERY + "SearchDatasets": _experiments,
    REGISTRY + "CreateRegisteredModel": AUTHENTICATED,
    REGISTRY + "GetRegisteredModel": _model(READ),
    REGISTRY + "RenameRegisteredModel": _model(EDIT),
    REGISTRY + "UpdateRegisteredModel": _model(EDIT),
    REGISTRY + "DeleteRegisteredModel": _model(MANAGE),
    REGISTRY + "SearchRegisteredModels": FILTERED,
    REGISTRY + "SetRegisteredModelTag": _model(EDIT),
    REGISTRY + "DeleteRegisteredModelTag": _model(EDIT),
    REGISTRY + "CreateModelVersion": _new_version,
    REGISTRY + "GetModelVersion": _model(READ),
    REGISTRY + "UpdateModelVersion": _model(EDIT),
    REGISTRY + "DeleteModelVersion": _model(MANAGE),
    REGISTRY + "SearchModelVersions": FILTERED,
    REGISTRY + "SetModelVersionTag": _model(EDIT),
    REGISTRY + "DeleteModelVersionTag": _model(EDIT),
    REGISTRY + "TransitionModelVersionStage": _model(EDIT),
    REGISTRY + "GetLatestVersions": _model(READ),
    REGISTRY + "SetRegisteredModelAlias": _model(EDIT),
    REGISTRY + "DeleteRegisteredModelAlias": _model(EDIT),
    REGISTRY + "GetModelVersionByAlias": _model(READ),
    REGISTRY + "GetModelVersionHistory": _model(READ),
}

# calls that need no token: the load balancer's and Kubernetes' probes, and the schema
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
