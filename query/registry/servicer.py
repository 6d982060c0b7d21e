"""The RegistryService servicer: a thin layer over the decider, the writes and the stores.

Writes: read the model's state, let the registry's decider pick the event (or raise),
submit it (registry_writes: produce, wait for the projection) and answer from Postgres.
Reads go straight to Postgres. The actor recorded is the authenticated caller when
authentication is on (the request's `actor` is then ignored). Errors map to status codes
in errors.translate_errors.
"""

from __future__ import annotations

import contextlib

import grpc

from tracklog.query import paging
from tracklog.query.auth.permissions import actor
from tracklog.query.errors import translate_errors
from tracklog.query.registry import convert as registry_convert
from tracklog.query.registry import requests
from tracklog.query.registry import store as registry_store
from tracklog.query.registry import store_versions as versions
from tracklog.query.registry.origin import NOW, Origin, origin
from tracklog.query.registry.records import CommandResult
from tracklog.query.registry.writes import RegistryWrites, event_id_for
from tracklog.query.stores.postgres import Pool
from tracklog.registry import commands as c
from tracklog.registry import names
from tracklog.registry.decider import decide, existing_version
from tracklog.registry.errors import FailedPrecondition
from tracklog.v1 import registry_pb2 as r
from tracklog.v1 import registry_pb2_grpc

Ctx = grpc.ServicerContext


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, pool: Pool, writes: RegistryWrites) -> None:
        self._pool = pool
        self._writes = writes

    def _submit(
        self, command: c.Command, request_id: str = "", imported: Origin = NOW
    ) -> CommandResult:
        """Decide and write `command`. A call made before with the same request_id (a
        retry) answers its first outcome instead and writes nothing (registry/writes.py).
        `imported`: the time and user an import carries over (origin.py)."""
        # the authenticated caller when authentication is on, never the request's field
        who = actor(command.actor)
        event_id = event_id_for(request_id, type(command).__name__, who)
        with self._writes.once(event_id) if request_id else contextlib.nullcontext():
            first = self._writes.first_outcome(event_id) if request_id else None
            if first is not None:
                return first
            model = registry_store.model_state(self._pool, command.name)
            if isinstance(command, c.CreateModel):
                model_id = command.model_id
            else:
                model_id = model.model_id if model is not None else ""
            taken = isinstance(command, c.RenameModel) and registry_store.name_taken(
                self._pool, command.new_name
            )
            payload = decide(command, model, name_taken=taken)
            recorded = who if imported.user_id is None else imported.user_id
            return self._writes.submit(model_id, payload, recorded, event_id, imported.occurred_ns)

    def _model(self, name: str) -> r.RegisteredModel:
        return registry_convert.registered_model(registry_store.get_model(self._pool, name))

    def _version(self, name: str, version: int) -> r.ModelVersion:
        return registry_convert.model_version(versions.get_version(self._pool, name, version))

    # --- registered models -------------------------------------------------------------

    @translate_errors
    def CreateRegisteredModel(
        self, request: r.CreateRegisteredModelRequest, context: Ctx
    ) -> r.CreateRegisteredModelResponse:
        model_id = registry_store.new_model_id(self._pool, names.model_name(request.name))
        imported = origin(request)
        self._submit(requests.create_model(request, model_id), request.request_id, imported)
        return r.CreateRegisteredModelResponse(registered_model=self._model(request.name))

    @translate_errors
    def GetRegisteredModel(
        self, request: r.GetRegisteredModelRequest, context: Ctx
    ) -> r.GetRegisteredModelResponse:
        return r.GetRegisteredModelResponse(registered_model=self._model(request.name))

    @translate_errors
    def RenameRegisteredModel(
        self, request: r.RenameRegisteredModelRequest, context: Ctx
    ) -> r.RenameRegisteredModelResponse:
        self._submit(
            c.RenameModel(request.name, request.new_name, request.actor), request.request_id
        )
        return r.RenameRegisteredModelResponse(registered_model=self._model(request.new_name))

    @translate_errors
    def UpdateRegisteredModel(
        self, request: r.UpdateRegisteredModelRequest, context: Ctx
    ) -> r.UpdateRegisteredModelResponse:
        self._submit(
            c.UpdateModel(request.name, request.description, request.actor),
            request.request_id,
            origin(request),
        )
        return r.UpdateRegisteredModelResponse(registered_model=self._model(request.name))

    @translate_errors
    def DeleteRegisteredModel(
        self, request: r.DeleteRegisteredModelRequest, context: Ctx
    ) -> r.DeleteRegisteredModelResponse:
        self._submit(c.DeleteModel(request.name, request.actor), request.request_id)
        return r.DeleteRegisteredModelResponse()

    @translate_errors
    def SearchRegisteredModels(
        self, request: r.SearchRegisteredModelsRequest, context: Ctx
    ) -> r.SearchRegisteredModelsResponse:
        search = requests.search(request, requests.MODELS)
        after = requests.model_cursor(search.cursor)
        found, more = registry_store.search_models(self._pool, search.clauses, search.limit, after)
        token = ""
        if more:
            token = paging.encode_token(requests.MODELS, [found[-1].name], search.scope)
        return r.SearchRegisteredModelsResponse(
            registered_models=[registry_convert.registered_model(m) for m in found],
            next_page_token=token,
        )

    @translate_errors
    def SetRegisteredModelTag(
        self, request: r.SetRegisteredModelTagRequest, context: Ctx
    ) -> r.SetRegisteredModelTagResponse:
        self._submit(
            c.SetModelTag(request.name, request.key, request.value, request.actor),
            request.request_id,
            origin(request),
        )
        return r.SetRegisteredModelTagResponse()

    @translate_errors
    def DeleteRegisteredModelTag(
        self, request: r.DeleteRegisteredModelTagRequest, context: Ctx
    ) -> r.DeleteRegisteredModelTagResponse:
        self._submit(c.DeleteModelTag(request.name, request.key, request.actor), request.request_id)
        return r.DeleteRegisteredModelTagResponse()

    # --- model versions ----------------------------------------------------------------

    @translate_errors
    def CreateModelVersion(
        self, request: r.CreateModelVersionRequest, context: Ctx
    ) -> r.CreateModelVersionResponse:
        command = requests.create_version(request)
        imported = origin(request)
        model = registry_store.model_state(self._pool, command.name)
        held = existing_version(command, model)
        if held is not None:  # a numbered create repeated: answered, nothing written
            return r.CreateModelVersionResponse(model_version=self._version(request.name, held))
        result = self._submit(command, request.request_id, imported)
        assert result.version is not None  # the projection records the allocated number
        if command.version is not None and result.version != command.version:
            raise FailedPrecondition(
                f"version {command.version} of registered model {request.name!r} was taken "
                f"meanwhile; this call created version {result.version}"
            )
        return r.CreateModelVersionResponse(
            model_version=self._version(request.name, result.version)
        )

    @translate_errors
    def GetModelVersion(
        self, request: r.GetModelVersionRequest, context: Ctx
    ) -> r.GetModelVersionResponse:
        names.version(request.version)
        return r.GetModelVersionResponse(model_version=self._version(request.name, request.version))

    @translate_errors
    def UpdateModelVersion(
        self, request: r.UpdateModelVersionRequest, context: Ctx
    ) -> r.UpdateModelVersionResponse:
        self._submit(requests.update_version(request), request.request_id, origin(request))
        return r.UpdateModelVersionResponse(
            model_version=self._version(request.name, request.version)
        )

    @translate_errors
    def DeleteModelVersion(
        self, request: r.DeleteModelVersionRequest, context: Ctx
    ) -> r.DeleteModelVersionResponse:
        self._submit(
            c.DeleteVersion(request.name, request.version, request.actor),
            request.request_id,
            origin(request),
        )
        return r.DeleteModelVersionResponse()

    @translate_errors
    def SearchModelVersions(
        self, request: r.SearchModelVersionsRequest, context: Ctx
    ) -> r.SearchModelVersionsResponse:
        search = requests.search(request, requests.VERSIONS)
        after = requests.version_cursor(search.cursor)
        found, more = versions.search_versions(self._pool, search.clauses, search.limit, after)
        token = ""
        if more:
            last = [found[-1].name, found[-1].version]
            token = paging.encode_token(requests.VERSIONS, last, search.scope)
        return r.SearchModelVersionsResponse(
            model_versions=[registry_convert.model_version(v) for v in found],
            next_page_token=token,
        )

    @translate_errors
    def SetModelVersionTag(
        self, request: r.SetModelVersionTagRequest, context: Ctx
    ) -> r.SetModelVersionTagResponse:
        command = c.SetVersionTag(
            request.name, request.version, request.key, request.value, request.actor
        )
        self._submit(command, request.request_id, origin(request))
        return r.SetModelVersionTagResponse()

    @translate_errors
    def DeleteModelVersionTag(
        self, request: r.DeleteModelVersionTagRequest, context: Ctx
    ) -> r.DeleteModelVersionTagResponse:
        self._submit(
            c.DeleteVersionTag(request.name, request.version, request.key, request.actor),
            request.request_id,
        )
        return r.DeleteModelVersionTagResponse()

    @translate_errors
    def TransitionModelVersionStage(
        self, request: r.TransitionModelVersionStageRequest, context: Ctx
    ) -> r.TransitionModelVersionStageResponse:
        command = c.TransitionStage(
            request.name,
            request.version,
            request.stage,
            request.archive_existing_versions,
            request.actor,
        )
        self._submit(command, request.request_id, origin(request))
        return r.TransitionModelVersionStageResponse(
            model_version=self._version(request.name, request.version)
        )

    @translate_errors
    def GetLatestVersions(
        self, request: r.GetLatestVersionsRequest, context: Ctx
    ) -> r.GetLatestVersionsResponse:
        found = versions.latest_versions(self._pool, request.name, requests.stage_list(request))
        return r.GetLatestVersionsResponse(
            model_versions=[registry_convert.model_version(v) for v in found]
        )

    # --- aliases and history -------------------------------------------------------------

    @translate_errors
    def SetRegisteredModelAlias(
        self, request: r.SetRegisteredModelAliasRequest, context: Ctx
    ) -> r.SetRegisteredModelAliasResponse:
        self._submit(
            c.SetAlias(request.name, request.alias, request.version, request.actor),
            request.request_id,
            origin(request),
        )
        return r.SetRegisteredModelAliasResponse()

    @translate_errors
    def DeleteRegisteredModelAlias(
        self, request: r.DeleteRegisteredModelAliasRequest, context: Ctx
    ) -> r.DeleteRegisteredModelAliasResponse:
        self._submit(c.DeleteAlias(request.name, request.alias, request.actor), request.request_id)
        return r.DeleteRegisteredModelAliasResponse()

    @translate_errors
    def GetModelVersionByAlias(
        self, request: r.GetModelVersionByAliasRequest, context: Ctx
    ) -> r.GetModelVersionByAliasResponse:
        names.alias(request.alias)
        found = versions.version_by_alias(self._pool, request.name, request.alias)
        return r.GetModelVersionByAliasResponse(model_version=registry_convert.model_version(found))

    @translate_errors
    def GetModelVersionHistory(
        self, request: r.GetModelVersionHistoryRequest, context: Ctx
    ) -> r.GetModelVersionHistoryResponse:
        entries = versions.history(self._pool, request.name, request.version)
        return r.GetModelVersionHistoryResponse(
            entries=[registry_convert.audit_entry(e) for e in entries]
        )
