"""Typed rows of the registry read model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class VersionRecord:
    name: str
    version: int
    creation_time: datetime
    last_updated_time: datetime
    user_id: str
    current_stage: str
    description: str
    source: str
    run_id: str
    status: str
    status_message: str
    tags: tuple[tuple[str, str], ...] = ()
    aliases: tuple[str, ...] = ()
    logged_model_id: str = ""


@dataclass(frozen=True, slots=True)
class ModelRecord:
    model_id: str
    name: str
    description: str
    creation_time: datetime
    last_updated_time: datetime
    tags: tuple[tuple[str, str], ...] = ()
    aliases: tuple[tuple[str, int], ...] = ()
    latest_versions: tuple[VersionRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditRecord:
    name: str
    version: int
    kind: str  # STAGE or ALIAS
    alias: str
    from_value: str
    to_value: str
    actor: str
    at: datetime
    event_id: str


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What the projection recorded for one registry event."""

    code: str  # OK or a registry error code
    message: str
    version: int | None
