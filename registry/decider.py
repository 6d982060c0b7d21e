"""The decider: a command plus the current state -> the events to emit, or a domain error.

Pure: the caller reads the state (query/registry/store.py) and produces the events. The
projection re-checks what only it can see race-free (a name taken meanwhile, a version
deleted meanwhile) and records such conflicts for the waiting caller. Who asked
(`command.actor`) is not in the payload: the caller puts it on the event's envelope.
"""

from __future__ import annotations

from typing import TypeAlias

from tracklog.registry import commands as c
from tracklog.registry import names, stages, uris
from tracklog.registry.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from tracklog.v1 import events_pb2 as pb

Payload: TypeAlias = (
    pb.RegisteredModelCreated
    | pb.RegisteredModelRenamed
    | pb.RegisteredModelDescriptionUpdated
    | pb.RegisteredModelDeleted
    | pb.RegisteredModelTagSet
    | pb.RegisteredModelTagDeleted
    | pb.ModelVersionCreated
    | pb.ModelVersionDescriptionUpdated
    | pb.ModelVersionDeleted
    | pb.ModelVersionTagSet
    | pb.ModelVersionTagDeleted
    | pb.ModelVersionStageTransitioned
    | pb.ModelVersionStatusChanged
    | pb.RegisteredModelAliasSet
    | pb.RegisteredModelAliasDeleted
)


def decide(command: c.Command, model: c.ModelState | None, *, name_taken: bool = False) -> Payload:
    """The event `command` causes given `model` (the state of the model it names).

    `name_taken` says whether a rename's new name belongs to another model.
    """
    if isinstance(command, c.CreateModel):
        return _create_model(command, model)
    names.model_name(command.name)
    if model is None:
        raise NotFound(f"registered model {command.name!r} not found")
    if isinstance(command, c.RenameModel):
        names.model_name(command.new_name)
        if name_taken or command.new_name == model.name:
            raise AlreadyExists(f"registered model {command.new_name!r} already exists")
        return pb.RegisteredModelRenamed(new_name=command.new_name)
    if isinstance(command, c.UpdateModel):
        description = names.text("description", command.description)
        return pb.RegisteredModelDescriptionUpdated(description=description)
    if isinstance(command, c.DeleteModel):
        return pb.RegisteredModelDeleted()
    if isinstance(command, c.SetModelTag):
        key, value = names.tag(command.key, command.value)
        return pb.RegisteredModelTagSet(tag=pb.Tag(key=key, value=value))
    if isinstance(command, c.DeleteModelTag):
        if command.key not in model.tag_keys:
            raise NotFound(f"registered model {model.name!r} has no tag {command.key!r}")
        return pb.RegisteredModelTagDeleted(key=command.key)
    if isinstance(command, c.CreateVersion):
        _numbered(command, model)
        return _create_version(command)
    if isinstance(command, c.DeleteAlias):
        names.alias(command.alias)
        if command.alias not in model.aliases:
            raise NotFound(f"registered model {model.name!r} has no alias {command.alias!r}")
        return pb.RegisteredModelAliasDeleted(alias=command.alias)
    if isinstance(command, c.SetAlias):
        names.alias(command.alias)  # arguments first, then state
    if isinstance(command, c.TransitionStage):
        stages.parse_stage(command.stage)
    return _version_command(command, model, _version(model, command.version))


def _create_model(command: c.CreateModel, model: c.ModelState | None) -> Payload:
    names.model_name(command.name)
    if model is not None:
        raise AlreadyExists(f"registered model {command.name!r} already exists")
    return pb.RegisteredModelCreated(
        name=command.name,
        description=names.text("description", command.description),
        tags=_tags(command.tags),
    )


def existing_version(command: c.CreateVersion, model: c.ModelState | None) -> int | None:
    """The version a numbered create asks for when it already exists from the same source
    and run (the call is then answered with it, and no event is written); else None."""
    if command.version is None or model is None:
        return None
    held = model.versions.get(command.version)
    if held is None or (held.source, held.run_id) != (command.source, command.run_id):
        return None
    return held.version


def _numbered(command: c.CreateVersion, model: c.ModelState) -> None:
    """A create that names its number may only take the next one."""
    number = command.version
    if number is None:
        return
    names.version(number)
    if number in model.versions:
        raise AlreadyExists(
            f"version {number} of registered model {model.name!r} already exists "
            "from another source"
        )
    if number != model.last_version + 1:
        raise FailedPrecondition(
            f"version {number} of registered model {model.name!r} cannot be created: "
            f"the next number is {model.last_version + 1} (numbers are allocated in order; "
            "a gap is made by creating and deleting the versions in between)"
        )


def _create_version(command: c.CreateVersion) -> Payload:
    if not command.source:
        raise InvalidArgument("model version source must not be empty")
    status = stages.PENDING if command.pending else stages.READY
    logged_model_id = command.logged_model_id or uris.logged_model_id(command.source)
    return pb.ModelVersionCreated(
        source=names.text("source", command.source),
        run_id=names.text("run_id", command.run_id, 256),
        description=names.text("description", command.description),
        tags=_tags(command.tags),
        status=stages.status_to_proto(status),
        logged_model_id=names.text("logged_model_id", logged_model_id, 256),
        stage=stages.stage_to_proto(command.stage)
        if command.stage != stages.NONE
        else pb.MODEL_VERSION_STAGE_UNSPECIFIED,
    )


VersionCommand: TypeAlias = (
    c.UpdateVersion
    | c.DeleteVersion
    | c.SetVersionTag
    | c.DeleteVersionTag
    | c.TransitionStage
    | c.SetAlias
)


def _version_command(
    command: VersionCommand, model: c.ModelState, version: c.VersionState
) -> Payload:
    number = version.version
    if isinstance(command, c.UpdateVersion):
        if command.status is not None:
            return _status_change(command, model, version)
        if command.description is None:
            raise InvalidArgument("update_model_version needs a description or a status")
        description = names.text("description", command.description)
        return pb.ModelVersionDescriptionUpdated(version=number, description=description)
    if isinstance(command, c.DeleteVersion):
        return pb.ModelVersionDeleted(version=number)
    if isinstance(command, c.SetVersionTag):
        key, value = names.tag(command.key, command.value)
        return pb.ModelVersionTagSet(version=number, tag=pb.Tag(key=key, value=value))
    if isinstance(command, c.DeleteVersionTag):
        return pb.ModelVersionTagDeleted(version=number, key=command.key)
    if isinstance(command, c.TransitionStage):
        return _transition(command, model, version)
    names.alias(command.alias)
    return pb.RegisteredModelAliasSet(alias=command.alias, version=number)


def _transition(
    command: c.TransitionStage, model: c.ModelState, version: c.VersionState
) -> Payload:
    stage = stages.parse_stage(command.stage)
    where = f"version {version.version} of registered model {model.name!r}"
    if command.archive_existing_versions and stage not in stages.ACTIVE_STAGES:
        raise InvalidArgument(
            f"archive_existing_versions is only allowed when moving to Staging or Production, "
            f"not {stage}"
        )
    if version.status != stages.READY:
        raise FailedPrecondition(
            f"{where} is {version.status}; only a READY version can change stage"
        )
    return pb.ModelVersionStageTransitioned(
        version=version.version,
        stage=stages.stage_to_proto(stage),
        archive_existing_versions=command.archive_existing_versions,
    )


def _status_change(
    command: c.UpdateVersion, model: c.ModelState, version: c.VersionState
) -> Payload:
    status = command.status or ""
    number = stages.status_to_proto(status)
    if status == stages.PENDING:
        raise InvalidArgument("a version cannot be set back to PENDING_REGISTRATION")
    if version.status != stages.PENDING:
        raise FailedPrecondition(
            f"version {version.version} of registered model {model.name!r} is {version.status}; "
            "only a PENDING_REGISTRATION version's status can change"
        )
    return pb.ModelVersionStatusChanged(
        version=version.version,
        status=number,
        status_message=names.text("status_message", command.status_message),
    )


def _version(model: c.ModelState, number: int) -> c.VersionState:
    names.version(number)
    found = model.versions.get(number)
    if found is None:
        raise NotFound(f"version {number} of registered model {model.name!r} not found")
    return found


def _tags(pairs: tuple[tuple[str, str], ...]) -> list[pb.Tag]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise InvalidArgument(f"duplicate tag keys in {keys}")
    return [pb.Tag(key=k, value=v) for k, v in (names.tag(k, v) for k, v in pairs)]
