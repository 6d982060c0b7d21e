"""`RegistryClient`: the model registry over gRPC, with MLflow's method names.

Every write answers once the registry's projection has applied it (so
`create_model_version` returns the allocated number). Failures raise
`tracklog.RegistryError` subclasses from `tracklog.registry.errors`, chosen by the
gRPC status: NotFound, AlreadyExists, InvalidArgument, FailedPrecondition,
Unavailable, DeadlineExceeded (the server's message is kept; the RpcError is the cause).
Writes carry a request id and are retried with it (`RegistryMixin._rcall`).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from tracklog.client.base import ClientBase
from tracklog.client.errors import unreachable, unreachable_message
from tracklog.client.registry_entities import AuditEntry, ModelVersion, PagedList, RegisteredModel
from tracklog.registry import errors, stages, uris
from tracklog.session import Session
from tracklog.v1 import events_pb2
from tracklog.v1 import registry_pb2 as r

Resp = TypeVar("Resp")
WRITE_ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 0.5  # times the attempt number
RETRIED = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def _timestamp(ms: int | None) -> Timestamp | None:
    if ms is None:
        return None
    stamp = Timestamp()
    stamp.FromMilliseconds(int(ms))
    return stamp


def _tags(tags: Mapping[str, Any] | None) -> list[events_pb2.Tag]:
    return [events_pb2.Tag(key=k, value=str(v)) for k, v in (tags or {}).items()]


class RegistryMixin(ClientBase):
    """The registry methods of `RegistryClient` and `TracklogClient` (MLflow's names).

    Every call first waits until the writes of the client's session are projected
    (`ClientBase._sync`), so a version created for a run just logged finds it."""

    def _rcall(self, method: Callable[..., Resp], request: Any) -> Resp:
        """One call. A write gets a request id, kept on its retries (after UNAVAILABLE or
        DEADLINE_EXCEEDED, `WRITE_ATTEMPTS` in all): the service answers a retry with the
        first attempt's outcome, so a retried create never makes a second version."""
        self._sync()
        write = "request_id" in request.DESCRIPTOR.fields_by_name
        if write and not request.request_id:
            request.request_id = uuid.uuid4().hex
        attempt = 1
        while True:
            try:
                return method(request, timeout=self._timeout)
            except grpc.RpcError as error:
                code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
                if write and code in RETRIED and attempt < WRITE_ATTEMPTS:
                    time.sleep(RETRY_PAUSE_SECONDS * attempt)
                    attempt += 1
                    continue
                details = error.details() if isinstance(error, grpc.Call) else str(error)
                if code == grpc.StatusCode.UNAVAILABLE and unreachable(details or ""):
                    details = unreachable_message(self.query_addr, details or "")
                raise errors.from_code(code.name, details or code.name) from error

    # --- registered models ---------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, Any] | None = None,
        description: str = "",
        *,
        created_ms: int | None = None,
    ) -> RegisteredModel:
        """`created_ms`: when it was created (Unix ms), for an import keeping another
        registry's times; an admin's call when the service checks tokens."""
        request = r.CreateRegisteredModelRequest(
            name=name,
            description=description,
            tags=_tags(tags),
            actor=self._actor,
            created_at=_timestamp(created_ms),
        )
        reply = self._rcall(self._registry.CreateRegisteredModel, request)
        return RegisteredModel.from_proto(reply.registered_model)

    def get_registered_model(self, name: str) -> RegisteredModel:
        request = r.GetRegisteredModelRequest(name=name)
        reply = self._rcall(self._registry.GetRegisteredModel, request)
        return RegisteredModel.from_proto(reply.registered_model)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        request = r.RenameRegisteredModelRequest(name=name, new_name=new_name, actor=self._actor)
        reply = self._rcall(self._registry.RenameRegisteredModel, request)
        return RegisteredModel.from_proto(reply.registered_model)

    def update_registered_model(
        self, name: str, description: str, *, occurred_ms: int | None = None
    ) -> RegisteredModel:
        """`occurred_ms` (Unix ms, on every write an import makes): when the change
        happened, for an import keeping another registry's times; an admin's call when
        the service checks tokens."""
        request = r.UpdateRegisteredModelRequest(
            name=name,
            description=description,
            actor=self._actor,
            occurred_at=_timestamp(occurred_ms),
        )
        reply = self._rcall(self._registry.UpdateRegisteredModel, request)
        return RegisteredModel.from_proto(reply.registered_model)

    def delete_registered_model(self, name: str) -> None:
        request = r.DeleteRegisteredModelRequest(name=name, actor=self._actor)
        self._rcall(self._registry.DeleteRegisteredModel, request)

    def search_registered_models(
        self, filter_string: str = "", max_results: int = 100, page_token: str = ""
    ) -> PagedList[RegisteredModel]:
        request = r.SearchRegisteredModelsRequest(
            filter=filter_string, max_results=max_results, page_token=page_token
        )
        reply = self._rcall(self._registry.SearchRegisteredModels, request)
        models = [RegisteredModel.from_proto(m) for m in reply.registered_models]
        return PagedList(models, reply.next_page_token)

    def set_registered_model_tag(
        self, name: str, key: str, value: Any, *, occurred_ms: int | None = None
    ) -> None:
        request = r.SetRegisteredModelTagRequest(
            name=name,
            key=key,
            value=str(value),
            actor=self._actor,
            occurred_at=_timestamp(occurred_ms),
        )
        self._rcall(self._registry.SetRegisteredModelTag, request)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        request = r.DeleteRegisteredModelTagRequest(name=name, key=key, actor=self._actor)
        self._rcall(self._registry.DeleteRegisteredModelTag, request)

    # --- model versions ------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
        model_id: str | None = None,
        *,
        version: int | None = None,
        pending: bool = False,
        created_ms: int | None = None,
        user_id: str | None = None,
        stage: str | None = None,
    ) -> ModelVersion:
        """A new version of `name` from `source`; `model_id`: the MLflow 3 logged model it
        comes from (a source `models:/<model id>` implies it). `version`: the number it
        must get (only the next one; repeated with the same source and run, it returns the
        existing version), for an import that keeps another registry's numbers. `pending`:
        created PENDING_REGISTRATION (`update_model_version(status=...)` ends it).
        `created_ms` (Unix ms), `user_id` ("": none) and `stage`: the creation time, user
        and stage (whatever the status) an import keeps (an admin's call when the service
        checks tokens)."""
        request = r.CreateModelVersionRequest(
            name=name,
            source=source,
            run_id=run_id or "",
            description=description or "",
            tags=_tags(tags),
            actor=self._actor,
            logged_model_id=model_id or "",
            version=version,
            pending=pending,
            created_at=_timestamp(created_ms),
            user_id=user_id,
            stage=stage or "",
        )
        reply = self._rcall(self._registry.CreateModelVersion, request)
        return ModelVersion.from_proto(reply.model_version)

    def register_model(
        self, model_uri: str, name: str, tags: Mapping[str, Any] | None = None
    ) -> ModelVersion:
        """Create the model if it does not exist, then a version from `model_uri`
        (a `runs:/<run_id>/<path>` URI also records the run id)."""
        runs = uris.parse_runs_uri(model_uri)
        with contextlib.suppress(errors.AlreadyExists):  # exists, or created concurrently
            self.create_registered_model(name)
        run_id = runs.run_id if runs is not None else None
        return self.create_model_version(name, model_uri, run_id=run_id, tags=tags)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        request = r.GetModelVersionRequest(name=name, version=int(version))
        return ModelVersion.from_proto(
            self._rcall(self._registry.GetModelVersion, request).model_version
        )

    def update_model_version(
        self,
        name: str,
        version: int | str,
        description: str | None = None,
        *,
        status: str | None = None,
        status_message: str = "",
        occurred_ms: int | None = None,
    ) -> ModelVersion:
        """The description, or the status of a PENDING_REGISTRATION version (READY or
        FAILED_REGISTRATION, with `status_message`). `occurred_ms`: as
        `update_registered_model`'s."""
        request = r.UpdateModelVersionRequest(
            name=name,
            version=int(version),
            description=description,
            status=stages.status_to_proto(status)
            if status
            else events_pb2.MODEL_VERSION_STATUS_UNSPECIFIED,
            status_message=status_message,
            actor=self._actor,
            occurred_at=_timestamp(occurred_ms),
        )
        reply = self._rcall(self._registry.UpdateModelVersion, request)
        return ModelVersion.from_proto(reply.model_version)

    def delete_model_version(
        self, name: str, version: int | str, *, occurred_ms: int | None = None
    ) -> None:
        request = r.DeleteModelVersionRequest(
            name=name,
            version=int(version),
            actor=self._actor,
            occurred_at=_timestamp(occurred_ms),
        )
        self._rcall(self._registry.DeleteModelVersion, request)

    def search_model_versions(
        self, filter_string: str = "", max_results: int = 100, page_token: str = ""
    ) -> PagedList[ModelVersion]:
        request = r.SearchModelVersionsRequest(
            filter=filter_string, max_results=max_results, page_token=page_token
        )
        reply = self._rcall(self._registry.SearchModelVersions, request)
        found = [ModelVersion.from_proto(v) for v in reply.model_versions]
        return PagedList(found, reply.next_page_token)

    def set_model_version_tag(
        self,
        name: str,
        version: int | str,
        key: str,
        value: Any,
        *,
        occurred_ms: int | None = None,
    ) -> None:
        request = r.SetModelVersionTagRequest(
            name=name,
            version=int(version),
            key=key,
            value=str(value),
            actor=self._actor,
            occurred_at=_timestamp(occurred_ms),
        )
        self._rcall(self._registry.SetModelVersionTag, request)

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        request = r.DeleteModelVersionTagRequest(
            name=name, version=int(version), key=key, actor=self._actor
        )
        self._rcall(self._registry.DeleteModelVersionTag, request)

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
        *,
        occurred_ms: int | None = None,
    ) -> ModelVersion:
        request = r.TransitionModelVersionStageRequest(
            name=name,
            version=int(version),
            stage=stage,
            archive_existing_versions=archive_existing_versions,
            actor=self._actor,
            occurred_at=_timestamp(occurred_ms),
        )
        reply = self._rcall(self._registry.TransitionModelVersionStage, request)
        return ModelVersion.from_proto(reply.model_version)

    def get_latest_versions(
        self, name: str, stages: Iterable[str] | None = None
    ) -> list[ModelVersion]:
        request = r.GetLatestVersionsRequest(name=name, stages=list(stages or ()))
        reply = self._rcall(self._registry.GetLatestVersions, request)
        return [ModelVersion.from_proto(v) for v in reply.model_versions]

    # --- aliases, history, URIs ----------------------------------------------------------

    def set_registered_model_alias(
        self, name: str, alias: str, version: int | str, *, occurred_ms: int | None = None
    ) -> None:
        request = r.SetRegisteredModelAliasRequest(
            name=name,
            alias=alias,
            version=int(version),
            actor=self._actor,
            occurred_at=_timestamp(occurred_ms),
        )
        self._rcall(self._registry.SetRegisteredModelAlias, request)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        request = r.DeleteRegisteredModelAliasRequest(name=name, alias=alias, actor=self._actor)
        self._rcall(self._registry.DeleteRegisteredModelAlias, request)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        request = r.GetModelVersionByAliasRequest(name=name, alias=alias)
        reply = self._rcall(self._registry.GetModelVersionByAlias, request)
        return ModelVersion.from_proto(reply.model_version)

    def get_model_version_history(self, name: str, version: int | None = None) -> list[AuditEntry]:
        """Every stage and alias change of the model (or of one version), oldest first."""
        request = r.GetModelVersionHistoryRequest(name=name, version=version or 0)
        reply = self._rcall(self._registry.GetModelVersionHistory, request)
        return [AuditEntry.from_proto(e) for e in reply.entries]

    def get_model_version_for_uri(self, model_uri: str) -> ModelVersion:
        """The version a `models:/name/3`, `models:/name/Production`, `models:/name@alias`
        or `models:/name/latest` URI names."""
        uri = uris.parse_model_uri(model_uri)
        if uri.version is not None:
            return self.get_model_version(uri.name, uri.version)
        if uri.alias is not None:
            return self.get_model_version_by_alias(uri.name, uri.alias)
        found = self.get_latest_versions(uri.name, [uri.stage] if uri.stage else None)
        if not found:
            where = f"in stage {uri.stage}" if uri.stage else "at all"
            raise errors.NotFound(f"registered model {uri.name!r} has no version {where}")
        return max(found, key=lambda v: v.version)

    def resolve_model_uri(self, model_uri: str) -> str:
        """The source URI of the version a `models:/` URI names."""
        return self.get_model_version_for_uri(model_uri).source


class RegistryClient(RegistryMixin):
    """A client of the RegistryService at ``address`` (default: TRACKLOG_QUERY_ADDR), whose
    reads and writes see what ``session`` (default: the default session) wrote."""

    def __init__(
        self, address: str | None = None, *, session: Session | None = None, timeout: float = 60.0
    ) -> None:
        super().__init__(address, session=session, timeout=timeout)

    @property
    def address(self) -> str:
        return self.query_addr


def register_model(
    model_uri: str, name: str, tags: Mapping[str, Any] | None = None, *, address: str | None = None
) -> ModelVersion:
    """Fluent `tracklog.register_model`: a client for this one call (TRACKLOG_QUERY_ADDR)."""
    with RegistryClient(address) as client:
        return client.register_model(model_uri, name, tags)


def resolve_model_uri(model_uri: str, *, address: str | None = None) -> str:
    """Fluent: the source URI behind `models:/name/3`, `models:/name/Production` or
    `models:/name@champion`."""
    with RegistryClient(address) as client:
        return client.resolve_model_uri(model_uri)
