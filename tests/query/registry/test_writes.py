"""RegistryWrites numbers its events in one producer session and puts the actor on the
envelope (a fake producer stands in for Kafka; the projection's answer is stubbed)."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest

from tracklog.contract.settings import KafkaSettings
from tracklog.query.registry import store_versions
from tracklog.query.registry import writes as registry_writes
from tracklog.query.registry.records import CommandResult
from tracklog.v1 import events_pb2 as pb


class FakeProducer:
    """Keeps what it is sent, in order, and acknowledges at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, pb.Envelope]] = []
        self._metadata = SimpleNamespace(topic_id=lambda topic: None)
        self._lock = threading.Lock()

    def send(self, topic: str, key: bytes, value: bytes) -> Any:
        with self._lock:
            self.sent.append((key, pb.Envelope.FromString(value)))
            offset = len(self.sent) - 1
        return SimpleNamespace(get=lambda timeout: SimpleNamespace(partition=0, offset=offset))


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, pb.Envelope]]:
    producer = FakeProducer()
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
