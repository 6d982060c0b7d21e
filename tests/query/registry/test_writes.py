"""RegistryWrites numbers its events in one producer session, puts the actor on the
envelope, writes to the registry topic, and answers a retried call's first outcome (a fake
producer stands in for Kafka; the projection's answer is stubbed)."""

from __future__ import annotations

import threading
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from tracklog.contract.settings import KafkaSettings
from tracklog.query.registry import store_versions
from tracklog.query.registry import writes as registry_writes
from tracklog.query.registry.records import CommandResult
from tracklog.registry import errors
from tracklog.v1 import events_pb2 as pb


class FakeProducer:
    """Keeps what it is sent, in order, and acknowledges at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, pb.Envelope]] = []
        self.topics: list[str] = []
        self._metadata = SimpleNamespace(topic_id=lambda topic: None)
        self._lock = threading.Lock()

    def send(self, topic: str, key: bytes, value: bytes) -> Any:
        with self._lock:
            self.sent.append((key, pb.Envelope.FromString(value)))
            self.topics.append(topic)
            offset = len(self.sent) - 1
        return SimpleNamespace(get=lambda timeout: SimpleNamespace(partition=0, offset=offset))


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


@pytest.fixture
def sent(
    monkeypatch: pytest.MonkeyPatch, producer: FakeProducer
) -> list[tuple[bytes, pb.Envelope]]:
    monkeypatch.setattr(registry_writes.RegistryWrites, "_get_producer", lambda self: producer)
    monkeypatch.setattr(registry_writes.RegistryWrites, "_wait", lambda self, *args: None)
    ok = CommandResult("OK", "", None)
    monkeypatch.setattr(store_versions, "command_result", lambda pool, event_id: ok)
    return producer.sent


def test_events_name_the_actor_and_count_per_model_in_one_session(
    sent: list[tuple[bytes, pb.Envelope]],
) -> None:
    writes = registry_writes.RegistryWrites(KafkaSettings(), pool=None)  # type: ignore[arg-type]

    def write(model: str) -> None:
        for _ in range(20):
            writes.submit(model, pb.RegisteredModelTagDeleted(key="k"), actor=f"{model}-user")

    threads = [threading.Thread(target=write, args=(m,)) for m in ("a" * 32, "b" * 32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (session,) = {env.producer_session for _, env in sent}
    assert len(session) == 32
    for model in ("a" * 32, "b" * 32):
        events = [env for key, env in sent if key == model.encode()]
        assert [env.sequence for env in events] == list(range(1, 21))  # in partition order
        assert {env.actor for env in events} == {f"{model}-user"}
        assert all(env.aggregate_type == pb.AGGREGATE_TYPE_REGISTERED_MODEL for env in events)
        assert not any(env.registered_model_tag_deleted.actor for env in events)
    other = registry_writes.RegistryWrites(KafkaSettings(), pool=None)  # type: ignore[arg-type]
    other.submit("a" * 32, pb.RegisteredModelDeleted(), actor="x")
    assert (sent[-1][1].producer_session != session, sent[-1][1].sequence) == (True, 1)


def test_events_go_to_the_registry_topic_with_the_given_event_id(
    sent: list[tuple[bytes, pb.Envelope]], producer: FakeProducer
) -> None:
    kafka = KafkaSettings(events_topic="t.events")
    writes = registry_writes.RegistryWrites(kafka, pool=None)  # type: ignore[arg-type]
    event_id = registry_writes.event_id_for(uuid.uuid4().hex, "DeleteModel", "ann")
    writes.submit("a" * 32, pb.RegisteredModelDeleted(), actor="ann", event_id=event_id)
    writes.submit("a" * 32, pb.RegisteredModelDeleted(), actor="ann")
    assert producer.topics == ["t.events.registry", "t.events.registry"]
    assert sent[0][1].event_id == event_id and sent[1][1].event_id != event_id


def test_first_outcome_answers_the_recorded_result_or_raises_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    results = {
        "done": CommandResult("OK", "", 3),
        "refused": CommandResult("FAILED_PRECONDITION", "version 3 is archived", None),
    }
    monkeypatch.setattr(store_versions, "command_result", lambda pool, eid: results.get(eid))
    writes = registry_writes.RegistryWrites(KafkaSettings(), pool=None)  # type: ignore[arg-type]
    assert writes.first_outcome("done") == CommandResult("OK", "", 3)
    assert writes.first_outcome("never") is None
    with pytest.raises(errors.FailedPrecondition, match="archived"):
        writes.first_outcome("refused")


def test_calls_of_one_event_id_wait_for_each_other() -> None:
    writes = registry_writes.RegistryWrites(KafkaSettings(), pool=None)  # type: ignore[arg-type]
    inside: list[str] = []
    overlap: list[bool] = []

    def call(name: str) -> None:
        with writes.once("same"):
            inside.append(name)
            overlap.append(len(inside) > 1)
            time.sleep(0.05)
            inside.remove(name)

    threads = [threading.Thread(target=call, args=(str(i),)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlap == [False] * 4
    with writes.once("a"), writes.once("b"):  # other ids do not wait
        pass
    assert not writes._calls  # nothing kept once the calls are over
