"""Step 1 for registry events: the checks decode() runs on each registry payload. Pure.

The rules are the registry's (tracklog.registry); an event breaking them was not
produced by the registry service and goes to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tracklog.contract.envelopes import actor_of
from tracklog.registry import names, stages
from tracklog.registry.errors import InvalidArgument
from tracklog.v1 import events_pb2 as pb


class InvalidRegistryEvent(ValueError):
    """A registry payload that breaks the registry's rules."""


def _check(rule: Callable[..., object], *args: object) -> None:
    try:
        rule(*args)
    except InvalidArgument as exc:
        raise InvalidRegistryEvent(str(exc)) from exc


def _tags(tags: Iterable[pb.Tag]) -> None:
    keys = []
    for tag in tags:
        _check(names.tag, tag.key, tag.value)
        keys.append(tag.key)
    if len(set(keys)) != len(keys):
        raise InvalidRegistryEvent(f"duplicate tag keys {keys}")


def _texts(**fields: str) -> None:
    for what, value in fields.items():
        _check(names.text, what, value)


def _model_created(e: pb.Envelope) -> None:
    event = e.registered_model_created
    _check(names.model_name, event.name)
    _tags(event.tags)
    _texts(description=event.description)


def _model_renamed(e: pb.Envelope) -> None:
    _check(names.model_name, e.registered_model_renamed.new_name)


def _model_description(e: pb.Envelope) -> None:
    event = e.registered_model_description_updated
    _texts(description=event.description)


def _model_deleted(e: pb.Envelope) -> None:
    """A deletion carries nothing but who asked (checked for every registry event)."""


def _model_tag_set(e: pb.Envelope) -> None:
    _check(names.tag, e.registered_model_tag_set.tag.key, e.registered_model_tag_set.tag.value)


def _model_tag_deleted(e: pb.Envelope) -> None:
    _check(names.tag_key, e.registered_model_tag_deleted.key)


def _version_created(e: pb.Envelope) -> None:
    event = e.model_version_created
    if not event.source:
        raise InvalidRegistryEvent("model_version_created has an empty source")
    _check(stages.status_from_proto, event.status)
    if event.stage:  # unspecified: None
        _check(stages.stage_from_proto, event.stage)
    _tags(event.tags)
    _texts(
        source=event.source,
        run_id=event.run_id,
        description=event.description,
        logged_model_id=event.logged_model_id,
    )


def _versioned(
    event: pb.ModelVersionDescriptionUpdated
    | pb.ModelVersionDeleted
    | pb.ModelVersionTagSet
    | pb.ModelVersionTagDeleted
    | pb.ModelVersionStageTransitioned
    | pb.ModelVersionStatusChanged
    | pb.RegisteredModelAliasSet,
) -> None:
    _check(names.version, event.version)


def _version_description(e: pb.Envelope) -> None:
    _versioned(e.model_version_description_updated)
    _texts(description=e.model_version_description_updated.description)


def _version_deleted(e: pb.Envelope) -> None:
    _versioned(e.model_version_deleted)


def _version_tag_set(e: pb.Envelope) -> None:
    _versioned(e.model_version_tag_set)
    _check(names.tag, e.model_version_tag_set.tag.key, e.model_version_tag_set.tag.value)


def _version_tag_deleted(e: pb.Envelope) -> None:
    _versioned(e.model_version_tag_deleted)
    _check(names.tag_key, e.model_version_tag_deleted.key)


def _stage_transitioned(e: pb.Envelope) -> None:
    event = e.model_version_stage_transitioned
    _versioned(event)
    _check(stages.stage_from_proto, event.stage)


def _status_changed(e: pb.Envelope) -> None:
    event = e.model_version_status_changed
    _versioned(event)
    _check(stages.status_from_proto, event.status)
    _texts(status_message=event.status_message)


def _alias_set(e: pb.Envelope) -> None:
    _versioned(e.registered_model_alias_set)
    _check(names.alias, e.registered_model_alias_set.alias)


def _alias_deleted(e: pb.Envelope) -> None:
    _check(names.alias, e.registered_model_alias_deleted.alias)


def _checked(check: Callable[[pb.Envelope], None]) -> Callable[[pb.Envelope], None]:
    """`check` after what every registry event needs: occurred_at (the time of the change
    it records) and a valid actor (the envelope's, or an older event's payload's)."""

    def checked(envelope: pb.Envelope) -> None:
        if not envelope.HasField("occurred_at"):
            raise InvalidRegistryEvent("registry events need occurred_at")
        _texts(actor=actor_of(envelope))
        check(envelope)

    return checked


_CHECKS: dict[str, Callable[[pb.Envelope], None]] = {
    "registered_model_created": _model_created,
    "registered_model_renamed": _model_renamed,
    "registered_model_description_updated": _model_description,
    "registered_model_deleted": _model_deleted,
    "registered_model_tag_set": _model_tag_set,
    "registered_model_tag_deleted": _model_tag_deleted,
    "model_version_created": _version_created,
    "model_version_description_updated": _version_description,
    "model_version_deleted": _version_deleted,
    "model_version_tag_set": _version_tag_set,
    "model_version_tag_deleted": _version_tag_deleted,
    "model_version_stage_transitioned": _stage_transitioned,
    "model_version_status_changed": _status_changed,
    "registered_model_alias_set": _alias_set,
    "registered_model_alias_deleted": _alias_deleted,
}

VALIDATORS: dict[str, Callable[[pb.Envelope], None]] = {
    kind: _checked(check) for kind, check in _CHECKS.items()
}
