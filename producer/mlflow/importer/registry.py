"""The model registry: MLflow's registered models and versions through Tracklog's
registry service (which decides, checks and projects every change).

Versions keep their original numbers: each is created asking for its number
(CreateModelVersion's ``version``: the service allows only the next one, and answers a
repeated create from the same source with the existing version), in order; for a
number MLflow no longer has (a deleted version) a placeholder version is created and
deleted at once, as happened in MLflow: the gap stays a gap, and the audit trail says
why. (A version event carrying its own number, ModelVersionCreated.version, would need
events.proto; the numbers are allocated by the projection, in order.) Stages,
aliases, descriptions and tags follow. A model Tracklog already holds is compared
first and only what differs is sent, so a second import adds nothing.

Models and versions keep MLflow's times, users, statuses and stages. Each create
carries ``created_at`` (the event's time) and, for a version, ``user_id`` ("" when
MLflow recorded none) and its stage, whatever its status (Tracklog moves only READY
versions between stages; MLflow holds failed or pending versions in stages too). A
version MLflow holds PENDING_REGISTRATION or FAILED_REGISTRATION, or READY with a status
message, is created pending and its status then set as MLflow has it. Every later write
carries ``occurred_at``: MLflow's last-updated time of the version it changes (a
deleted version's placeholder: the time of the version before it), or of the model.
Tracklog stamps a model with the time of every change to one of its versions (MLflow
does not), and a write stamps only the time it carries, so an entity whose last write
did not carry its last-updated time ends with an update of its unchanged description
that does. These fields are an admin's when the service checks tokens
(query/registry/origin.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion as SourceVersion
from mlflow.entities.model_registry import RegisteredModel as SourceModel

from tracklog.client.registry import RegistryClient
from tracklog.client.registry_entities import ModelVersion, RegisteredModel
from tracklog.mlflow.importer.run_events import Skipped
from tracklog.registry.errors import FailedPrecondition, NotFound, RegistryError

PENDING, READY = "PENDING_REGISTRATION", "READY"
PLACEHOLDER_NOTE = "deleted in MLflow before the import; kept as a gap in the numbering"
PAGE = 100


class RegistryMismatch(ValueError):
    """Tracklog holds a model whose versions differ from the source's."""


def models(client: MlflowClient) -> Iterator[SourceModel]:
    token: str | None = None
    while True:
        page = client.search_registered_models(max_results=PAGE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def versions(client: MlflowClient, name: str) -> list[SourceVersion]:
    quoted = name.replace("'", "\\'")
    found: list[SourceVersion] = []
    token: str | None = None
    while True:
        page = client.search_model_versions(
            f"name = '{quoted}'", max_results=PAGE, page_token=token
        )
        found.extend(page)
        token = page.token
        if not token:
            return sorted(found, key=lambda v: int(v.version))


def aliases(model: SourceModel) -> dict[str, int]:
    """alias -> version (MLflow gives a dict from searches, a list from some stores)."""
    given = model.aliases or {}
    if isinstance(given, dict):
        return {alias: int(version) for alias, version in given.items()}
    return {a.alias: int(a.version) for a in given}


def count(client: MlflowClient) -> tuple[int, int]:
    """(registered models, versions) in the source."""
    listed = list(models(client))
    return len(listed), sum(len(versions(client, m.name)) for m in listed)


def _held_versions(target: RegistryClient, name: str) -> dict[int, ModelVersion]:
    quoted = name.replace("'", "\\'")
    found: dict[int, ModelVersion] = {}
    token = ""
    while True:
        page = target.search_model_versions(
            f"name = '{quoted}'", max_results=1000, page_token=token
        )
        found.update((v.version, v) for v in page)
        token = page.token
        if not token:
            return found


def import_registry(client: MlflowClient, address: str, skipped: list[Skipped]) -> tuple[int, int]:
    """Import every registered model; (models, versions) imported. A model Tracklog
    refuses or holds differently is left as it is and added to ``skipped``."""
    counted = [0, 0]
    with RegistryClient(address) as target:
        for model in models(client):
            try:
                counted[1] += import_model(client, target, model)
            except (RegistryMismatch, RegistryError) as error:
                skipped.append(Skipped(f"registered model {model.name!r}", str(error)))
                continue
            counted[0] += 1
    return counted[0], counted[1]


def import_model(client: MlflowClient, target: RegistryClient, model: SourceModel) -> int:
    name = model.name
    created_ms, updated_ms = _times(model)
    try:
        held: RegisteredModel | None = target.get_registered_model(name)
    except NotFound:
        held = None
    wrote = held is None
    if held is None:
        target.create_registered_model(
            name, model.tags, model.description or "", created_ms=created_ms
        )
        existing: dict[int, ModelVersion] = {}
    else:
        if (held.description or "") != (model.description or ""):
            target.update_registered_model(name, model.description or "", occurred_ms=updated_ms)
            wrote = True
        for key, value in model.tags.items():
            if held.tags.get(key) != value:
                target.set_registered_model_tag(name, key, value, occurred_ms=updated_ms)
                wrote = True
        existing = _held_versions(target, name)
    source_versions = versions(client, name)
    wanted = {int(v.version): v for v in source_versions}
    changed: set[int] = set()  # versions this import wrote to
    gap_ms = created_ms  # a deleted version's placeholder: the time of the one before it
    for number in range(1, max(wanted, default=0) + 1):
        version = wanted.get(number)
        if version is not None:
            gap_ms = _times(version)[0] or gap_ms
        if number in existing:
            if version is not None and existing[number].source != version.source:
                raise RegistryMismatch(
                    f"version {number} of model {name!r} in Tracklog comes from "
                    f"{existing[number].source!r}, in MLflow from {version.source!r}"
                )
            continue
        try:
            _create(target, name, number, version, gap_ms)
        except FailedPrecondition as error:  # the number was allocated before
            if version is not None:  # a version MLflow has: Tracklog cannot give it its number
                raise RegistryMismatch(str(error)) from error
            # a gap an earlier import left (or a version deleted in Tracklog): a gap still
            continue
        wrote = True
        changed.add(number)
    held_now = _held_versions(target, name)
    for version in source_versions:
        if _settle(target, name, version, held_now.get(int(version.version))):
            changed.add(int(version.version))
    held_model = target.get_registered_model(name)
    for alias, number in aliases(model).items():
        if held_model.aliases.get(alias) != number:
            target.set_registered_model_alias(name, alias, number, occurred_ms=updated_ms)
            wrote = True
    if changed:
        _keep_updated_times(target, name, {n: wanted[n] for n in changed if n in wanted})
    if wrote or changed:
        _keep_updated_time(target, name, updated_ms)
    return len(source_versions)


def _times(entity: SourceModel | SourceVersion) -> tuple[int | None, int | None]:
    """(created, last updated) in Unix ms as MLflow has them; last updated never before
    created (the order of the import's writes keys on these times)."""
    created = int(entity.creation_timestamp) if entity.creation_timestamp else None
    updated = int(entity.last_updated_timestamp) if entity.last_updated_timestamp else created
    if created is not None and updated is not None:
        updated = max(updated, created)
    return created, updated


def _keep_updated_times(
    target: RegistryClient, name: str, written: dict[int, SourceVersion]
) -> None:
    """Each version the import wrote to ends with MLflow's last-updated time: when its last
    write did not carry it (a version created and never changed after, in Tracklog's
    terms, that MLflow changed later), an update of its unchanged description does."""
    held = _held_versions(target, name)
    for number, version in sorted(written.items()):
        updated_ms = _times(version)[1]
        mine = held.get(number)
        if mine is None or updated_ms is None or mine.last_updated_timestamp == updated_ms:
            continue
        target.update_model_version(name, number, mine.description or "", occurred_ms=updated_ms)


def _keep_updated_time(target: RegistryClient, name: str, updated_ms: int | None) -> None:
    """The model ends with MLflow's last-updated time: every write to one of its versions
    stamps the model too (Tracklog's rule; MLflow's differ), so when the last one did not
    carry the model's time, an update of its unchanged description does."""
    held = target.get_registered_model(name)
    if updated_ms is not None and held.last_updated_timestamp != updated_ms:
        target.update_registered_model(name, held.description or "", occurred_ms=updated_ms)


def placeholder_source(name: str, number: int) -> str:
    """The source of the placeholder that keeps a deleted version's number as a gap."""
    return f"models:/{name}/{number}"


def _create(
    target: RegistryClient,
    name: str,
    number: int,
    version: SourceVersion | None,
    gap_ms: int | None,
) -> None:
    """Version ``number`` from ``version`` (in its stage, with its creation time, user
    and a pending status to end as MLflow has it), or a placeholder created and deleted
    at ``gap_ms`` (a gap); the service refuses (FailedPrecondition) a number that is not
    the next one."""
    if version is None:
        # a source naming the version itself: a models:/ URI, accepted wherever the
        # service checks sources against its artifact roots
        made = target.create_model_version(
            name,
            placeholder_source(name, number),
            description=PLACEHOLDER_NOTE,
            version=number,
            created_ms=gap_ms,
        )
        target.delete_model_version(name, made.version, occurred_ms=gap_ms)
        return
    target.create_model_version(
        name,
        version.source or "",
        run_id=version.run_id or None,
        tags=version.tags,
        description=version.description or None,
        model_id=getattr(version, "model_id", None) or None,
        version=number,
        pending=_status(version) != (READY, ""),
        created_ms=_times(version)[0],
        user_id=version.user_id or "",  # "": MLflow recorded no user
        stage=version.current_stage or "None",
    )


def _status(version: SourceVersion) -> tuple[str, str]:
    """(status, status message) of an MLflow version."""
    return str(version.status or READY), version.status_message or ""


def _settle(
    target: RegistryClient, name: str, version: SourceVersion, held: ModelVersion | None
) -> bool:
    """Status, description, tags and stage of an imported version, where they differ,
    each stamped with MLflow's last-updated time; whether anything was written."""
    if held is None:
        return False
    number = int(version.version)
    at = _times(version)[1]
    wrote = False
    status, message = _status(version)
    if held.status == PENDING and status != PENDING:  # created pending: end as in MLflow
        target.update_model_version(
            name, number, status=status, status_message=message, occurred_ms=at
        )
        held_status, wrote = status, True
    else:
        held_status = held.status
    if (held.description or "") != (version.description or ""):
        target.update_model_version(name, number, version.description or "", occurred_ms=at)
        wrote = True
    for key, value in version.tags.items():
        if held.tags.get(key) != value:
            target.set_model_version_tag(name, number, key, value, occurred_ms=at)
            wrote = True
    stage = version.current_stage or "None"
    if held.current_stage != stage and held_status == READY:  # changed in MLflow since
        target.transition_model_version_stage(name, number, stage, occurred_ms=at)
        wrote = True
    return wrote
