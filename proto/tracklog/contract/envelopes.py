"""The one envelope builder: every event on the events topic is an `Envelope` made here.

`envelope` wraps a payload, taking the oneof field and the aggregate type from the
payload's type (`AGGREGATE_TYPES`). A producer numbers its events through a
`ProducerSession`: a hex id minted when the producer starts and a counter per aggregate,
so that `sequence` is strictly increasing per (producer_session, aggregate_id) as
events.proto defines it. `actor_of` reads who asked, from the envelope or, for registry
events written before the envelope carried it, from the payload.
"""

from __future__ import annotations

import threading
import uuid

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from tracklog.v1 import events_pb2 as pb

_RUN = pb.AGGREGATE_TYPE_RUN
_EXPERIMENT = pb.AGGREGATE_TYPE_EXPERIMENT
_LOGGED_MODEL = pb.AGGREGATE_TYPE_LOGGED_MODEL
_REGISTERED_MODEL = pb.AGGREGATE_TYPE_REGISTERED_MODEL
_EXPERIMENT_EVENTS = (
    "experiment_created experiment_renamed experiment_deleted experiment_restored"
    " experiment_tag_set experiment_tag_deleted"
)
_RUN_EVENTS = (
    "run_started params_logged metrics_logged tags_set run_ended run_renamed run_deleted"
    " run_restored run_tag_deleted dataset_input_logged artifact_logged"
    " logged_model_output logged_model_input"
)
_LOGGED_MODEL_EVENTS = (
    "logged_model_created logged_model_finalized logged_model_tag_set"
    " logged_model_tag_deleted logged_model_deleted logged_model_params_logged"
    " logged_model_metrics_logged"
)
_REGISTRY_EVENTS = (
    "registered_model_created registered_model_renamed registered_model_description_updated"
    " registered_model_deleted registered_model_tag_set registered_model_tag_deleted"
    " model_version_created model_version_description_updated model_version_deleted"
    " model_version_tag_set model_version_tag_deleted model_version_stage_transitioned"
    " model_version_status_changed registered_model_alias_set registered_model_alias_deleted"
)
# Envelope oneof field -> the aggregate type its events belong to.
AGGREGATE_TYPES: dict[str, pb.AggregateType.ValueType] = {
    **dict.fromkeys(_EXPERIMENT_EVENTS.split(), _EXPERIMENT),
    **dict.fromkeys(_RUN_EVENTS.split(), _RUN),
    **dict.fromkeys(_LOGGED_MODEL_EVENTS.split(), _LOGGED_MODEL),
    **dict.fromkeys(_REGISTRY_EVENTS.split(), _REGISTERED_MODEL),
}
# payload message name -> Envelope oneof field
_FIELDS = {
    field.message_type.full_name: field.name
    for field in pb.Envelope.DESCRIPTOR.oneofs_by_name["payload"].fields
    if field.message_type is not None
}


def timestamp(unix_ns: int) -> Timestamp:
    """A Timestamp of Unix epoch nanoseconds."""
    return Timestamp(seconds=unix_ns // 1_000_000_000, nanos=unix_ns % 1_000_000_000)


def payload_field(payload: Message) -> str:
    """The Envelope oneof field that holds `payload`; ValueError if none does."""
    field = _FIELDS.get(payload.DESCRIPTOR.full_name)
    if field is None:
        raise ValueError(f"{payload.DESCRIPTOR.full_name} is not an event payload")
    return field


def envelope(
    *,
    event_id: str,
    aggregate_id: str,
    occurred_ns: int,
    payload: Message,
    producer_session: str,
    sequence: int,
    actor: str = "",
) -> pb.Envelope:
    """Wrap one payload. Pure; producers number events through `ProducerSession.envelope`."""
    field = payload_field(payload)
    env = pb.Envelope(
        event_id=event_id,
        aggregate_id=aggregate_id,
        aggregate_type=AGGREGATE_TYPES[field],
        sequence=sequence,
        occurred_at=timestamp(occurred_ns),
        producer_session=producer_session,
        actor=actor,
    )
    getattr(env, field).CopyFrom(payload)
    return env


class ProducerSession:
    """One producer's numbering of its events: its id and the next sequence per aggregate.

    Thread-safe. The caller hands events to Kafka in the order it numbered them (for one
    aggregate), so that sequence order is the partition's order.
    """

    def __init__(self, session_id: str | None = None) -> None:
        self.id = session_id or uuid.uuid4().hex
        self._sequences: dict[str, int] = {}
        self._lock = threading.Lock()

    def next_sequence(self, aggregate_id: str) -> int:
        with self._lock:
            sequence = self._sequences.get(aggregate_id, 0) + 1
            self._sequences[aggregate_id] = sequence
            return sequence

    def envelope(
        self,
        *,
        event_id: str,
        aggregate_id: str,
        occurred_ns: int,
        payload: Message,
        actor: str = "",
    ) -> pb.Envelope:
        """The next event of `aggregate_id` this session makes."""
        return envelope(
            event_id=event_id,
            aggregate_id=aggregate_id,
            occurred_ns=occurred_ns,
            payload=payload,
            producer_session=self.id,
            sequence=self.next_sequence(aggregate_id),
            actor=actor,
        )


def actor_of(env: pb.Envelope) -> str:
    """Who asked for the event: the envelope's actor, else (a registry event written before
    the envelope carried it) the payload's deprecated actor field."""
    if env.actor:
        return env.actor
    kind = env.WhichOneof("payload")
    payload = getattr(env, kind) if kind else None
    if payload is None or "actor" not in payload.DESCRIPTOR.fields_by_name:
        return ""
    legacy: str = payload.actor
    return legacy
