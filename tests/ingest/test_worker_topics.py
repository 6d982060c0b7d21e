"""Authority over registry events (issue 12, item 2), with the real broker and stores: the
worker consumes the events and registry topics in one group, applies registry events from
the registry topic only, dead-letters a registry event found on the events topic (anyone
who may log a metric can write there) and a tracking event found on the registry topic,
and accepts the registry history the events topic held before the split."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.ingest.events import experiment_created, running, wait_until
from tests.ingest.registry_history import history, produce_to, upgrade_after_applying
from tests.ingest.test_worker import read_topic
from tracklog.contract.settings import Settings
from tracklog.ingest.decode.authority import REGISTRY_ON_EVENTS_TOPIC, TRACKING_ON_REGISTRY_TOPIC
from tracklog.ingest.worker import Worker
from tracklog.v1 import events_pb2 as pb

pytestmark = pytest.mark.integration


def model_created(name: str) -> tuple[bytes, bytes]:
    model_id = uuid.uuid4().hex
    envelope = pb.Envelope(
        event_id=uuid.uuid4().hex,
        aggregate_id=model_id,
        aggregate_type=pb.AGGREGATE_TYPE_REGISTERED_MODEL,
        occurred_at=Timestamp(seconds=1_700_000_000),
        actor="someone",
    )
    envelope.registered_model_created.name = name
    return model_id.encode(), envelope.SerializeToString()


def keyed(envelope: pb.Envelope) -> tuple[bytes, bytes]:
    return envelope.aggregate_id.encode(), envelope.SerializeToString()


def models(settings: Settings) -> list[str]:
    with psycopg.connect(settings.postgres_dsn) as conn:
        return [str(r[0]) for r in conn.execute("SELECT name FROM registered_models ORDER BY 1")]


def test_registry_events_count_only_from_the_registry_topic(
    settings: Settings, clickhouse_client: Any
) -> None:
    kafka = settings.kafka
    produce_to(settings, kafka.events_topic, [model_created("forged")])
    experiment = experiment_created(uuid.uuid4().hex, "exp")
    produce_to(settings, kafka.registry_topic, [model_created("served"), keyed(experiment)])
    worker = Worker(settings, clickhouse_client)
    with running(worker) as runner:
        wait_until(lambda: runner.drained(3), what="the worker to drain both topics")
    assert models(settings) == ["served"]
    letters = read_topic(settings, kafka.dead_letter_topic, expected=2)
    reasons = {
        dict(m.headers)["source_topic"].decode(): dict(m.headers)["reason"].decode()
        for m in letters
    }
    assert reasons[kafka.events_topic].startswith(REGISTRY_ON_EVENTS_TOPIC)
    assert reasons[kafka.registry_topic].startswith(TRACKING_ON_REGISTRY_TOPIC)
    assert worker.stats.dead_letters == 2


def test_the_history_left_on_the_events_topic_is_accepted_and_nothing_after_it(
    settings: Settings, clickhouse_client: Any
) -> None:
    kafka = settings.kafka
    before = produce_to(
        settings, kafka.events_topic, [model_created("old-a"), model_created("old-b")]
    )
    upgrade_after_applying(settings, before)  # what the stores held when the split came
    assert history(settings) == before
    produce_to(settings, kafka.events_topic, [model_created("after-the-split")])
    worker = Worker(settings, clickhouse_client)
    with running(worker) as runner:
        wait_until(lambda: runner.drained(3), what="the worker to drain")
    assert models(settings) == ["old-a", "old-b"]
    (letter,) = read_topic(settings, kafka.dead_letter_topic, expected=1)
    assert dict(letter.headers)["reason"].decode().startswith(REGISTRY_ON_EVENTS_TOPIC)


def test_a_new_deployment_has_no_registry_history(
    settings: Settings, clickhouse_client: Any
) -> None:
    Worker(settings, clickhouse_client)  # migrates a fresh database
    assert history(settings) == {}
