"""The registry's commands (what a caller asks for) and the state a decision needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tracklog.registry import stages


@dataclass(frozen=True, slots=True)
class VersionState:
    version: int
    stage: str
    status: str
    source: str = ""
    run_id: str = ""


@dataclass(frozen=True, slots=True)
class ModelState:
    """A registered model as the decider sees it (read from the Postgres projection)."""

    model_id: str
    name: str
    versions: Mapping[int, VersionState] = field(default_factory=dict)
    aliases: Mapping[str, int] = field(default_factory=dict)
    tag_keys: frozenset[str] = frozenset()
    last_version: int = 0  # the highest number ever allocated (deleted versions too)


@dataclass(frozen=True, slots=True)
class CreateModel:
    name: str
    model_id: str  # a fresh stable id (see query/registry_store.new_model_id)
    description: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    actor: str = ""


@dataclass(frozen=True, slots=True)
class RenameModel:
    name: str
    new_name: str
    actor: str = ""


@dataclass(frozen=True, slots=True)
class UpdateModel:
    name: str
    description: str
    actor: str = ""


@dataclass(frozen=True, slots=True)
class DeleteModel:
    name: str
    actor: str = ""


@dataclass(frozen=True, slots=True)
class SetModelTag:
    name: str
    key: str
    value: str
    actor: str = ""


@dataclass(frozen=True, slots=True)
class DeleteModelTag:
    name: str
    key: str
    actor: str = ""


@dataclass(frozen=True, slots=True)
class CreateVersion:
    name: str
    source: str
    run_id: str = ""
    description: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    pending: bool = False
    actor: str = ""
    logged_model_id: str = ""  # "" and a source models:/<id>: that id
    version: int | None = None  # the number it must get (see `existing_version`)
    stage: str = stages.NONE  # the stage it is created in (an import's; any status)


@dataclass(frozen=True, slots=True)
class UpdateVersion:
    name: str
    version: int
    description: str | None = None
    status: str | None = None
    status_message: str = ""
    actor: str = ""


@dataclass(frozen=True, slots=True)
class DeleteVersion:
    name: str
    version: int
    actor: str = ""


@dataclass(frozen=True, slots=True)
class SetVersionTag:
    name: str
    version: int
    key: str
    value: str
    actor: str = ""


@dataclass(frozen=True, slots=True)
class DeleteVersionTag:
    name: str
    version: int
    key: str
    actor: str = ""


@dataclass(frozen=True, slots=True)
class TransitionStage:
    name: str
    version: int
    stage: str
    archive_existing_versions: bool = False
    actor: str = ""


@dataclass(frozen=True, slots=True)
class SetAlias:
    name: str
    alias: str
    version: int
    actor: str = ""


@dataclass(frozen=True, slots=True)
class DeleteAlias:
    name: str
    alias: str
    actor: str = ""


Command = (
    CreateModel
    | RenameModel
    | UpdateModel
    | DeleteModel
    | SetModelTag
    | DeleteModelTag
    | CreateVersion
    | UpdateVersion
    | DeleteVersion
    | SetVersionTag
    | DeleteVersionTag
    | TransitionStage
    | SetAlias
    | DeleteAlias
)
