"""Which topic may carry which events (issue 12, item 2): registry events only on the
registry topic, tracking events only on the events topic, except the registry history
recorded on the events topic when the registry got its own topic. Pure."""

from __future__ import annotations

import uuid

from google.protobuf.timestamp_pb2 import Timestamp

from tests.ingest.events import experiment_created, run_started
from tracklog.contract.settings import KafkaSettings
from tracklog.ingest.batch import decode_batch
from tracklog.ingest.decode.authority import (
    REGISTRY_ON_EVENTS_TOPIC,
    TRACKING_ON_REGISTRY_TOPIC,
    TopicAuthority,
    is_registry_event,
)
from tracklog.ingest.records import Position, Record
from tracklog.v1 import events_pb2 as pb

EVENTS, REGISTRY = "t.events@aa", "t.events.registry@bb"
AUTHORITY = TopicAuthority.of(KafkaSettings(events_topic="t.events"), {(EVENTS, 0): 9})


def model_created(name: str = "churn") -> pb.Envelope:
    envelope = pb.Envelope(
        event_id=uuid.uuid4().hex,
        aggregate_id=uuid.uuid4().hex,
        aggregate_type=pb.AGGREGATE_TYPE_REGISTERED_MODEL,
        occurred_at=Timestamp(seconds=1_700_000_000),
    )
    envelope.registered_model_created.name = name
    return envelope


def record(log: str, partition: int, offset: int, envelope: pb.Envelope) -> Record:
    return Record(Position(log, partition, offset), None, envelope.SerializeToString())


def test_registry_events_are_the_registered_models() -> None:
    assert is_registry_event("model_version_stage_transitioned")
    assert is_registry_event("registered_model_alias_set")
    assert not is_registry_event("run_started")
    assert not is_registry_event("logged_model_created")  # MLflow 3's: tracking


def test_a_registry_event_on_the_events_topic_is_refused_past_the_history() -> None:
    refused = AUTHORITY.refusal((EVENTS, 0), 10, "model_version_created")
    assert refused is not None and refused.startswith(REGISTRY_ON_EVENTS_TOPIC)
    assert "t.events.registry" in refused
    assert AUTHORITY.refusal((EVENTS, 1), 0, "model_version_created") is not None
    # another incarnation of the events topic has no history
    assert AUTHORITY.refusal(("t.events@cc", 0), 3, "model_version_created") is not None


def test_recorded_history_on_the_events_topic_is_accepted() -> None:
    assert AUTHORITY.refusal((EVENTS, 0), 0, "registered_model_created") is None
    assert AUTHORITY.refusal((EVENTS, 0), 9, "model_version_created") is None


def test_a_tracking_event_on_the_registry_topic_is_refused() -> None:
    refused = AUTHORITY.refusal((REGISTRY, 0), 0, "run_started")
    assert refused is not None and refused.startswith(TRACKING_ON_REGISTRY_TOPIC)


def test_each_topic_takes_its_own_events_and_other_topics_are_not_judged() -> None:
    assert AUTHORITY.refusal((REGISTRY, 3), 100, "model_version_created") is None
    assert AUTHORITY.refusal((EVENTS, 3), 100, "run_started") is None
    assert AUTHORITY.refusal(("elsewhere@dd", 0), 100, "model_version_created") is None


def test_decode_batch_rejects_events_on_the_wrong_topic_with_the_reason() -> None:
    run = run_started(uuid.uuid4().hex, uuid.uuid4().hex)
    polled = [
        record(EVENTS, 0, 5, model_created("history")),  # within the history
        record(EVENTS, 0, 10, model_created("forged")),
        record(REGISTRY, 0, 0, model_created("service")),
        record(REGISTRY, 0, 1, run),
        record(EVENTS, 1, 0, experiment_created(uuid.uuid4().hex, "exp")),
    ]
    decoded = decode_batch(polled, None, AUTHORITY)
    assert [e is not None for e in decoded.envelopes] == [True, False, True, False, True]
    reasons = [(r.record.position.offset, r.reason.split(":")[0]) for r in decoded.rejected]
    assert reasons == [(10, REGISTRY_ON_EVENTS_TOPIC), (1, TRACKING_ON_REGISTRY_TOPIC)]
    # without an authority (tools, projection tests) every topic carries everything
    assert not decode_batch(polled).rejected
