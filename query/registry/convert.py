"""Registry records -> RegistryService messages."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from tracklog.query.registry.records import AuditRecord, ModelRecord, VersionRecord
from tracklog.registry import stages
from tracklog.v1 import events_pb2, registry_pb2

_AUDIT_KINDS = {
    "STAGE": registry_pb2.REGISTRY_AUDIT_KIND_STAGE,
    "ALIAS": registry_pb2.REGISTRY_AUDIT_KIND_ALIAS,
}


def _ts(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def _tags(pairs: tuple[tuple[str, str], ...]) -> list[events_pb2.Tag]:
    return [events_pb2.Tag(key=k, value=v) for k, v in pairs]


def model_version(record: VersionRecord) -> registry_pb2.ModelVersion:
    return registry_pb2.ModelVersion(
        name=record.name,
        version=record.version,
        creation_time=_ts(record.creation_time),
        last_updated_time=_ts(record.last_updated_time),
        user_id=record.user_id,
        current_stage=stages.stage_to_proto(record.current_stage),
        description=record.description,
        source=record.source,
        run_id=record.run_id,
        status=stages.status_to_proto(record.status),
        status_message=record.status_message,
        tags=_tags(record.tags),
        aliases=list(record.aliases),
        logged_model_id=record.logged_model_id,
    )


def registered_model(record: ModelRecord) -> registry_pb2.RegisteredModel:
    return registry_pb2.RegisteredModel(
        name=record.name,
        id=record.model_id,
        creation_time=_ts(record.creation_time),
        last_updated_time=_ts(record.last_updated_time),
        description=record.description,
        tags=_tags(record.tags),
        aliases=[registry_pb2.RegisteredModelAlias(alias=a, version=v) for a, v in record.aliases],
        latest_versions=[model_version(v) for v in record.latest_versions],
    )


def audit_entry(record: AuditRecord) -> registry_pb2.RegistryAuditEntry:
    return registry_pb2.RegistryAuditEntry(
        name=record.name,
        version=record.version,
        kind=_AUDIT_KINDS.get(record.kind, registry_pb2.REGISTRY_AUDIT_KIND_UNSPECIFIED),
        alias=record.alias,
        from_value=record.from_value,
        to_value=record.to_value,
        actor=record.actor,
        time=_ts(record.at),
        event_id=record.event_id,
    )
