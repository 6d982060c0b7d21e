"""What the registry client returns: frozen values with MLflow's field names.

Times are Unix epoch milliseconds, as MLflow's `creation_timestamp`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from tracklog.registry import stages
from tracklog.v1 import registry_pb2

T = TypeVar("T")


def _ms(ts: Timestamp) -> int:
    return ts.ToMilliseconds()


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str
    source: str
    run_id: str
    status: str
    description: str = ""
    user_id: str = ""
    status_message: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    model_id: str = ""  # the logged model ("m-...") it was registered from; "" if none

    @classmethod
    def from_proto(cls, message: registry_pb2.ModelVersion) -> ModelVersion:
        return cls(
            name=message.name,
            version=message.version,
            creation_timestamp=_ms(message.creation_time),
            last_updated_timestamp=_ms(message.last_updated_time),
            current_stage=stages.stage_from_proto(message.current_stage),
            source=message.source,
            run_id=message.run_id,
            status=stages.status_from_proto(message.status),
            description=message.description,
            user_id=message.user_id,
            status_message=message.status_message,
            tags={t.key: t.value for t in message.tags},
            aliases=tuple(message.aliases),
            model_id=message.logged_model_id,
        )


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    name: str
    id: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_versions: tuple[ModelVersion, ...] = ()

    @classmethod
    def from_proto(cls, message: registry_pb2.RegisteredModel) -> RegisteredModel:
        return cls(
            name=message.name,
            id=message.id,
            creation_timestamp=_ms(message.creation_time),
            last_updated_timestamp=_ms(message.last_updated_time),
            description=message.description,
            tags={t.key: t.value for t in message.tags},
            aliases={a.alias: a.version for a in message.aliases},
            latest_versions=tuple(ModelVersion.from_proto(v) for v in message.latest_versions),
        )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One stage change (from/to: stage names) or alias change (from/to: versions, "" = none)."""

    name: str
    version: int
    kind: str  # "stage" or "alias"
    alias: str
    from_value: str
    to_value: str
    actor: str
    timestamp: int
    event_id: str

    @classmethod
    def from_proto(cls, message: registry_pb2.RegistryAuditEntry) -> AuditEntry:
        kind = registry_pb2.RegistryAuditKind.Name(message.kind)
        return cls(
            name=message.name,
            version=message.version,
            kind=kind.removeprefix("REGISTRY_AUDIT_KIND_").lower(),
            alias=message.alias,
            from_value=message.from_value,
            to_value=message.to_value,
            actor=message.actor,
            timestamp=_ms(message.time),
            event_id=message.event_id,
        )


class PagedList(list[T], Generic[T]):
    """A page of results (a list) and the token of the next page ("" on the last)."""

    def __init__(self, items: list[T], token: str) -> None:
        super().__init__(items)
        self.token = token
