"""The one envelope builder: routing, producer-session numbering and who asked."""

from __future__ import annotations

import threading

import pytest

from tracklog.contract import envelopes
from tracklog.v1 import events_pb2 as pb

PAYLOAD_FIELDS = [f.name for f in pb.Envelope.DESCRIPTOR.oneofs_by_name["payload"].fields]


def test_every_payload_has_an_aggregate_type_and_is_routed_to_its_field() -> None:
    assert set(envelopes.AGGREGATE_TYPES) == set(PAYLOAD_FIELDS)
    for field in PAYLOAD_FIELDS:
        payload = getattr(pb.Envelope(), field)  # an empty payload of the field's type
        env = envelopes.envelope(
            event_id="e",
            aggregate_id="a",
            occurred_ns=0,
            payload=payload,
            producer_session="s",
            sequence=1,
        )
        assert env.WhichOneof("payload") == field
        assert env.aggregate_type == envelopes.AGGREGATE_TYPES[field]


def test_the_builder_is_pure_and_fills_every_envelope_field() -> None:
    def build() -> pb.Envelope:
        return envelopes.envelope(
            event_id="e1",
            aggregate_id="m1",
            occurred_ns=1_500_000_000_123,
            payload=pb.RegisteredModelDeleted(),
            producer_session="s1",
            sequence=4,
            actor="ana",
        )

    env = build()
    assert env == build()
    assert (env.event_id, env.aggregate_id, env.producer_session, env.sequence, env.actor) == (
        "e1",
        "m1",
        "s1",
        4,
        "ana",
    )
    assert env.aggregate_type == pb.AGGREGATE_TYPE_REGISTERED_MODEL
    assert (env.occurred_at.seconds, env.occurred_at.nanos) == (1500, 123)


def test_a_message_that_is_no_payload_is_refused() -> None:
    with pytest.raises(ValueError, match="not an event payload"):
        envelopes.payload_field(pb.Tag())


def test_a_session_counts_each_aggregate_from_one_under_its_own_id() -> None:
    session = envelopes.ProducerSession()
    other = envelopes.ProducerSession()
    assert session.id != other.id and len(session.id) == 32

    def wrap(s: envelopes.ProducerSession, aggregate_id: str) -> pb.Envelope:
        return s.envelope(
            event_id="e", aggregate_id=aggregate_id, occurred_ns=0, payload=pb.RunRestored()
        )

    numbered = [(env.aggregate_id, env.sequence) for env in map(wrap, [session] * 4, "abab")]
    assert numbered == [("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert {wrap(session, "a").producer_session} == {session.id}
    assert (wrap(other, "a").sequence, wrap(other, "a").producer_session) == (1, other.id)


def test_a_session_numbers_without_repeats_across_threads() -> None:
    session = envelopes.ProducerSession("fixed")
    taken: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(500):
            number = session.next_sequence("a")
            with lock:
                taken.append(number)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == list(range(1, 2001))
    assert session.id == "fixed"


def test_actor_is_the_envelopes_else_an_old_registry_payloads() -> None:
    new = pb.Envelope(actor="ana")
    new.registered_model_deleted.SetInParent()
    assert envelopes.actor_of(new) == "ana"
    old = pb.Envelope()
    old.registered_model_renamed.new_name = "x"
    old.registered_model_renamed.actor = "bob"  # where events before Envelope.actor kept it
    assert envelopes.actor_of(old) == "bob"
    run = pb.Envelope()
    run.run_restored.SetInParent()
    assert envelopes.actor_of(run) == "" == envelopes.actor_of(pb.Envelope())
