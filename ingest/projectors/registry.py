"""Step 2a for registry events: an Envelope -> one RegistryOp. Pure.

The op is the event in typed form (its actor the envelope's, or an older event's
payload's: `envelopes.actor_of`); what it does to the tables depends on the state
it meets (a version number to allocate, an alias to move, a name already taken), so
registry_writer.py applies ops one by one, in log order, inside the batch transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tracklog.contract.envelopes import actor_of
from tracklog.ingest.projectors.order import order_key
from tracklog.registry import stages
from tracklog.v1 import events_pb2 as pb


@dataclass(frozen=True, slots=True)
class ModelCreated:
    name: str
    description: str
    tags: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ModelRenamed:
    new_name: str


@dataclass(frozen=True, slots=True)
class ModelDeleted:
    pass


@dataclass(frozen=True, slots=True)
class DescriptionChanged:
    version: int | None  # None: the model's own description
    description: str


@dataclass(frozen=True, slots=True)
class TagChanged:
    version: int | None  # None: a tag of the model itself
    key: str
    value: str | None  # None: deleted


@dataclass(frozen=True, slots=True)
class VersionCreated:
    source: str
    run_id: str
    description: str
    tags: tuple[tuple[str, str], ...]
    status: str
    logged_model_id: str = ""
    stage: str = stages.NONE  # an import's version may arrive in a stage


@dataclass(frozen=True, slots=True)
class VersionDeleted:
    version: int


@dataclass(frozen=True, slots=True)
class StageChanged:
    version: int
    stage: str
    archive_existing_versions: bool


@dataclass(frozen=True, slots=True)
class StatusChanged:
    version: int
    status: str
    message: str


@dataclass(frozen=True, slots=True)
class AliasChanged:
    alias: str
    version: int | None  # None: deleted


Change = (
    ModelCreated
    | ModelRenamed
    | ModelDeleted
    | DescriptionChanged
    | TagChanged
    | VersionCreated
    | VersionDeleted
    | StageChanged
    | StatusChanged
    | AliasChanged
)


@dataclass(frozen=True, slots=True)
class RegistryOp:
    event_id: str
    model_id: str
    at: datetime
    actor: str
    change: Change
    order: str = field(default="", compare=False, repr=False)  # order.py: the event's key


def is_registry(envelope: pb.Envelope) -> bool:
    return envelope.aggregate_type == pb.AGGREGATE_TYPE_REGISTERED_MODEL


def project(envelope: pb.Envelope) -> RegistryOp:
    """The op of one validated registry event."""
    return RegistryOp(
        event_id=envelope.event_id,
        model_id=envelope.aggregate_id,
        at=envelope.occurred_at.ToDatetime(tzinfo=UTC),
        actor=actor_of(envelope),
        change=_change(envelope),
        order=order_key(envelope),
    )


def _tags(tags: list[pb.Tag]) -> tuple[tuple[str, str], ...]:
    return tuple((t.key, t.value) for t in tags)


def _change(e: pb.Envelope) -> Change:
    kind = e.WhichOneof("payload")
    if kind == "registered_model_created":
        created = e.registered_model_created
        return ModelCreated(created.name, created.description, _tags(list(created.tags)))
    if kind == "registered_model_renamed":
        return ModelRenamed(e.registered_model_renamed.new_name)
    if kind == "registered_model_deleted":
        return ModelDeleted()
    if kind == "registered_model_description_updated":
        return DescriptionChanged(None, e.registered_model_description_updated.description)
    if kind == "registered_model_tag_set":
        tag = e.registered_model_tag_set.tag
        return TagChanged(None, tag.key, tag.value)
    if kind == "registered_model_tag_deleted":
        return TagChanged(None, e.registered_model_tag_deleted.key, None)
    if kind == "model_version_created":
        v = e.model_version_created
        status = stages.status_from_proto(v.status)
        tags = _tags(list(v.tags))
        stage = stages.stage_from_proto(v.stage) if v.stage else stages.NONE
        return VersionCreated(
            v.source,
            v.run_id,
            v.description,
            tags,
            status,
            logged_model_id=v.logged_model_id,
            stage=stage,
        )
    if kind == "model_version_description_updated":
        d = e.model_version_description_updated
        return DescriptionChanged(d.version, d.description)
    if kind == "model_version_deleted":
        return VersionDeleted(e.model_version_deleted.version)
    if kind == "model_version_tag_set":
        t = e.model_version_tag_set
        return TagChanged(t.version, t.tag.key, t.tag.value)
    if kind == "model_version_tag_deleted":
        td = e.model_version_tag_deleted
        return TagChanged(td.version, td.key, None)
    if kind == "model_version_stage_transitioned":
        s = e.model_version_stage_transitioned
        stage = stages.stage_from_proto(s.stage)
        return StageChanged(s.version, stage, s.archive_existing_versions)
    if kind == "model_version_status_changed":
        st = e.model_version_status_changed
        return StatusChanged(st.version, stages.status_from_proto(st.status), st.status_message)
    if kind == "registered_model_alias_set":
        a = e.registered_model_alias_set
        return AliasChanged(a.alias, a.version)
    if kind == "registered_model_alias_deleted":
        return AliasChanged(e.registered_model_alias_deleted.alias, None)
    raise ValueError(f"not a registry event: {kind!r}")
