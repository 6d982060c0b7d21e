"""RegistryService requests -> registry commands, filters and pages (validation only)."""

from __future__ import annotations

from dataclasses import dataclass

from tracklog.contract.locations import check_under_roots
from tracklog.contract.settings import ArtifactRootSettings
from tracklog.query import paging
from tracklog.query.errors import InvalidArgument
from tracklog.registry import commands as c
from tracklog.registry import filters, stages
from tracklog.registry.filters import Clause
from tracklog.v1 import events_pb2, registry_pb2

SEARCH_PAGE = (100, 1000)  # (default, maximum)
MODELS, VERSIONS = "registered_models", "model_versions"


@dataclass(frozen=True, slots=True)
class Search:
    clauses: tuple[Clause, ...]
    limit: int
    scope: str
    cursor: list[object] | None


def _tags(tags: list[events_pb2.Tag]) -> tuple[tuple[str, str], ...]:
    return tuple((t.key, t.value) for t in tags)


def search(
    request: registry_pb2.SearchRegisteredModelsRequest | registry_pb2.SearchModelVersionsRequest,
    kind: str,
) -> Search:
    fields = filters.MODEL_FIELDS if kind == MODELS else filters.VERSION_FIELDS
    clauses = filters.parse(request.filter, fields)
    default, maximum = SEARCH_PAGE
    limit = paging.page_size(request.max_results, default=default, maximum=maximum)
    scope = paging.scope_of(kind, request.filter)
    cursor = paging.decode_token(request.page_token, kind, scope) if request.page_token else None
    return Search(clauses, limit, scope, cursor)


def model_cursor(cursor: list[object] | None) -> str | None:
    if cursor is None:
        return None
    if len(cursor) != 1 or not isinstance(cursor[0], str):
        raise InvalidArgument("invalid page_token: malformed cursor")
    return cursor[0]


def version_cursor(cursor: list[object] | None) -> tuple[str, int] | None:
    if cursor is None:
        return None
    if len(cursor) != 2 or not isinstance(cursor[0], str) or not isinstance(cursor[1], int):
        raise InvalidArgument("invalid page_token: malformed cursor")
    return cursor[0], cursor[1]


def stage_list(request: registry_pb2.GetLatestVersionsRequest) -> tuple[str, ...]:
    return stages.parse_stages(request.stages)


def update_version(request: registry_pb2.UpdateModelVersionRequest) -> c.UpdateVersion:
    status = None
    if request.status != events_pb2.MODEL_VERSION_STATUS_UNSPECIFIED:
        status = stages.status_from_proto(request.status)
    description = request.description if request.HasField("description") else None
    return c.UpdateVersion(
        request.name,
        request.version,
        description=description,
        status=status,
        status_message=request.status_message,
        actor=request.actor,
    )


def create_version(
    request: registry_pb2.CreateModelVersionRequest, roots: ArtifactRootSettings | None = None
) -> c.CreateVersion:
    """The command; INVALID_ARGUMENT when the source is neither ``runs:/``, ``models:/`` nor
    under the allowed artifact roots (``roots``, default from the environment: checked
    whenever TRACKLOG_ARTIFACT_ROOT or TRACKLOG_ARTIFACT_ROOTS is set, unless the latter is
    ``*``). A logged model's location lies under its experiment's,
    which the worker keeps under the roots."""
    allowed = (roots if roots is not None else ArtifactRootSettings.from_env()).allowed()
    if allowed and not request.source.startswith(("runs:/", "models:/")):
        try:
            check_under_roots("model version source", request.source, allowed)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
    return c.CreateVersion(
        request.name,
        request.source,
        run_id=request.run_id,
        description=request.description,
        tags=_tags(list(request.tags)),
        pending=request.pending,
        actor=request.actor,
        logged_model_id=request.logged_model_id,
        version=request.version if request.HasField("version") else None,
        stage=stages.parse_stage(request.stage) if request.stage else stages.NONE,
    )


def create_model(
    request: registry_pb2.CreateRegisteredModelRequest, model_id: str
) -> c.CreateModel:
    return c.CreateModel(
        request.name,
        model_id,
        description=request.description,
        tags=_tags(list(request.tags)),
        actor=request.actor,
    )
