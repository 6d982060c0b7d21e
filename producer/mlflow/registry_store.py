"""`TracklogRegistryStore`: MLflow's model-registry store over Tracklog's registry service.

Every call goes to the registry service, which decides and records it in the registry's
event log; writes answer once projected (so ``create_model_version`` returns its number)
and reads first wait on this process's writes. Each write carries a request id that the
client keeps on its own retries (`tracklog.client.registry`), so a retried
``create_model_version`` never makes a second version. Stages, aliases and tags follow MLflow's
rules (`tracklog.registry`); a version is READY when created (its source is a URI the
model was already written to, as MLflow's stores do).

Searches page through the service in its own order. An ``order_by`` (MLflow's
``name``, ``creation_timestamp``, ``last_updated_timestamp``, and for versions
``version_number``) reads every match, sorts, and pages by offset: registries hold
thousands of models, not millions.

MLflow's client adds ``tags.`mlflow.prompt.is_prompt` != 'true'`` to every search to
leave prompts out (models have no such tag). Tracklog has no prompts (GenAI is out of
scope), so that clause is dropped, and a search for prompts only finds none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry import SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT
from mlflow.store.model_registry.abstract_store import AbstractStore

from tracklog.client import registry_entities
from tracklog.client.tracklog_client import TracklogClient
from tracklog.mlflow import convert
from tracklog.mlflow.backend import backend_for
from tracklog.mlflow.errors import invalid, mlflow_errors
from tracklog.registry import uris

T = TypeVar("T")
SERVICE_PAGE = 1000  # the registry service's largest page
OFFSET_PREFIX = "offset:"
MODEL_ORDER_KEYS = {
    "name": "name",
    "timestamp": "last_updated_timestamp",
    "creation_timestamp": "creation_timestamp",
    "last_updated_timestamp": "last_updated_timestamp",
}
PROMPT_CLAUSE = re.compile(
    r"""(?ix)(?:\s+AND\s+)?\btags?\.`?mlflow\.prompt\.is_prompt`?\s*(?P<op>!=|=)\s*
        (?P<q>['"])(?P<value>true|false)(?P=q)(?:\s+AND\s+)?"""
)
VERSION_ORDER_KEYS = {**MODEL_ORDER_KEYS, "version_number": "version", "version": "version"}


class TracklogRegistryStore(AbstractStore):
    """The store MLflow builds for ``tracklog://`` registry URIs."""

    def __init__(self, store_uri: str, tracking_uri: str | None = None) -> None:
        super().__init__(store_uri, tracking_uri)
        self.store_uri = store_uri
        self.backend = backend_for(store_uri)

    @property
    def client(self) -> TracklogClient:
        return self.backend.client

    # --- registered models ---------------------------------------------------------------

    @mlflow_errors
    def create_registered_model(
        self,
        name: str,
        tags: list[RegisteredModelTag] | None = None,
        description: str | None = None,
        deployment_job_id: str | None = None,
    ) -> RegisteredModel:
        created = self.client.create_registered_model(
            name, tags={t.key: t.value for t in tags or []}, description=description or ""
        )
        return convert.registered_model(created)

    @mlflow_errors
    def update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        updated = self.client.update_registered_model(name, description or "")
        return convert.registered_model(updated)

    @mlflow_errors
    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return convert.registered_model(self.client.rename_registered_model(name, new_name))

    @mlflow_errors
    def delete_registered_model(self, name: str) -> None:
        self.client.delete_registered_model(name)

    @mlflow_errors
    def get_registered_model(self, name: str) -> RegisteredModel:
        return convert.registered_model(self.client.get_registered_model(name))

    @mlflow_errors
    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        found = _search(
            self.client.search_registered_models,
            filter_string,
            max_results or SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
            _order(order_by, MODEL_ORDER_KEYS),
            page_token,
        )
        return PagedList([convert.registered_model(m) for m in found], found.token or None)

    @mlflow_errors
    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[Any]:
        return [convert.model_version(v) for v in self.client.get_latest_versions(name, stages)]

    @mlflow_errors
    def set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        self.client.set_registered_model_tag(name, tag.key, tag.value)

    @mlflow_errors
    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.client.delete_registered_model_tag(name, key)

    # --- model versions ------------------------------------------------------------------

    @mlflow_errors
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: list[ModelVersionTag] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        local_model_path: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        model_id = model_id or uris.logged_model_id(source) or None  # models:/<model id>
        if model_id and not run_id:  # log_model(registered_model_name=...): the model's run
            run_id = self.client.get_logged_model(model_id).source_run_id
        created = self.client.create_model_version(
            name,
            source,
            run_id=run_id,
            tags={t.key: t.value for t in tags or []},
            description=description,
            model_id=model_id,
        )
        return convert.model_version(created)

    @mlflow_errors
    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion:
        updated = self.client.update_model_version(name, version, description=description)
        return convert.model_version(updated)

    @mlflow_errors
    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        moved = self.client.transition_model_version_stage(
            name, version, stage, archive_existing_versions=archive_existing_versions
        )
        return convert.model_version(moved)

    @mlflow_errors
    def delete_model_version(self, name: str, version: int | str) -> None:
        self.client.delete_model_version(name, version)

    @mlflow_errors
    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return convert.model_version(self.client.get_model_version(name, _version(version)))

    @mlflow_errors
    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        return self.client.get_model_version(name, _version(version)).source

    @mlflow_errors
    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        found = _search(
            self.client.search_model_versions,
            filter_string,
            max_results or SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
            _order(order_by, VERSION_ORDER_KEYS),
            page_token,
        )
        return PagedList([convert.model_version(v) for v in found], found.token or None)

    @mlflow_errors
    def set_model_version_tag(self, name: str, version: int | str, tag: ModelVersionTag) -> None:
        self.client.set_model_version_tag(name, _version(version), tag.key, tag.value)

    @mlflow_errors
    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        self.client.delete_model_version_tag(name, _version(version), key)

    # --- aliases -------------------------------------------------------------------------

    @mlflow_errors
    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        self.client.set_registered_model_alias(name, alias, _version(version))

    @mlflow_errors
    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.client.delete_registered_model_alias(name, alias)

    @mlflow_errors
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return convert.model_version(self.client.get_model_version_by_alias(name, alias))

    # --- what the server asks of every store ----------------------------------------------

    def _await_model_version_creation(self, mv: ModelVersion, await_creation_for: int) -> None:
        """Versions are READY when created: nothing to wait for."""

    def list_webhooks_by_event(
        self, event: Any, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Any]:
        """Webhooks are not supported; MLflow's server asks after every registry write."""
        return PagedList([], None)


def _version(version: int | str) -> int:
    try:
        return int(version)
    except (TypeError, ValueError):
        raise invalid(f"Model version must be an integer, got {version!r}") from None


def _order(order_by: Sequence[str] | None, keys: dict[str, str]) -> list[tuple[str, bool]]:
    """MLflow's ``order_by`` ("name ASC", "last_updated_timestamp DESC") as (field, desc)."""
    clauses: list[tuple[str, bool]] = []
    for clause in order_by or ():
        words = clause.split()
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if not words or len(words) > 2 or direction not in ("ASC", "DESC"):
            raise invalid(f"Invalid order_by clause '{clause}'")
        if words[0] not in keys:
            known = ", ".join(sorted(keys))
            raise invalid(f"Invalid order by key '{words[0]}' specified (valid: {known})")
        clauses.append((keys[words[0]], direction == "DESC"))
    return clauses


def _search(
    search: Callable[..., registry_entities.PagedList[T]],
    filter_string: str | None,
    max_results: int,
    order: list[tuple[str, bool]],
    page_token: str | None,
) -> registry_entities.PagedList[T]:
    """One page; with an order, every match sorted and paged by an offset token."""
    filter_string, prompts_only = _without_prompt_clause(filter_string or "")
    if prompts_only:
        return registry_entities.PagedList([], "")
    if not order:
        if page_token and page_token.startswith(OFFSET_PREFIX):
            raise invalid("This page token belongs to an ordered search; pass the same order_by")
        return search(filter_string or "", min(max_results, SERVICE_PAGE), page_token or "")
    offset = _offset(page_token)
    found: list[T] = []
    token = ""
    while True:
        page = search(filter_string or "", SERVICE_PAGE, token)
        found.extend(page)
        token = page.token
        if not token:
            break
    for field, descending in reversed(order):  # stable sorts, last key first
        found.sort(key=lambda item: getattr(item, field), reverse=descending)
    end = offset + max_results
    following = f"{OFFSET_PREFIX}{end}" if end < len(found) else ""
    return registry_entities.PagedList(found[offset:end], following)


def _offset(page_token: str | None) -> int:
    if not page_token:
        return 0
    number = page_token.removeprefix(OFFSET_PREFIX)
    if not page_token.startswith(OFFSET_PREFIX) or not number.isdigit():
        raise invalid(f"Invalid page token {page_token!r} for an ordered search")
    return int(number)


def _without_prompt_clause(filter_string: str) -> tuple[str, bool]:
    """The filter without MLflow's prompt clause, and whether it asked for prompts only."""
    found = PROMPT_CLAUSE.search(filter_string)
    if found is None:
        return filter_string, False
    wants_prompts = (found["op"] == "=") == (found["value"].lower() == "true")
    joined = " AND " if found.start() > 0 and found.end() < len(filter_string) else ""
    rest = filter_string[: found.start()] + joined + filter_string[found.end() :]
    return rest.strip(), wants_prompts
