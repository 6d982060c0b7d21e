"""Tracklog's topics (issue 12, items 2 and 8): events, registry and dead letters, each
with the replication factor and min.insync.replicas of the settings (production defaults 3
and 2), and the settings that name them.

Tansu (the test broker) keeps the replication factor it is given (one broker lists itself
as every replica) but neither stores nor reports topic configs, so `min.insync.replicas`
is checked on the NewTopic request, and the replica count on the real broker.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from kafka.admin import KafkaAdminClient

from tracklog.contract.settings import KafkaSettings, Settings
from tracklog.contract.topics import ensure_topics, new_topics


def test_production_defaults_are_three_copies_two_in_sync() -> None:
    kafka = Settings.from_env({}).kafka
    assert (kafka.replication_factor, kafka.min_insync_replicas) == (3, 2)
    assert (KafkaSettings().replication_factor, KafkaSettings().min_insync_replicas) == (3, 2)


def test_the_registry_topic_is_named_after_the_events_topic_unless_set() -> None:
    kafka = Settings.from_env({"TRACKLOG_EVENTS_TOPIC": "team.events"}).kafka
    assert (kafka.registry_topic, kafka.dead_letter_topic) == (
        "team.events.registry",
        "team.events.dlq",
    )
    assert replace(kafka, events_topic="other").registry_topic == "other.registry"
    named = Settings.from_env({"TRACKLOG_REGISTRY_TOPIC": "models.registry"}).kafka
    assert named.registry_topic == "models.registry"


def test_replication_settings_and_the_older_variable() -> None:
    env = {"TRACKLOG_TOPIC_REPLICATION_FACTOR": "5", "TRACKLOG_TOPIC_MIN_INSYNC_REPLICAS": "3"}
    kafka = Settings.from_env(env).kafka
    assert (kafka.replication_factor, kafka.min_insync_replicas) == (5, 3)
    older = Settings.from_env({"TRACKLOG_EVENTS_REPLICATION_FACTOR": "4"}).kafka
    assert older.replication_factor == 4


def test_new_topics_carry_the_replication_settings() -> None:
    kafka = KafkaSettings(events_topic="e", partitions=6)
    topics = new_topics(kafka)
    assert [t.name for t in topics] == ["e", "e.registry", "e.dlq"]
    for topic in topics:
        assert (topic.num_partitions, topic.replication_factor) == (6, 3)
        assert topic.topic_configs == {"min.insync.replicas": "2"}
    single = new_topics(replace(kafka, replication_factor=1, min_insync_replicas=1))
    assert {(t.replication_factor, t.topic_configs["min.insync.replicas"]) for t in single} == {
        (1, "1")
    }


@pytest.mark.parametrize(("factor", "in_sync"), [(1, 2), (3, 0), (2, 3)])
def test_impossible_replication_settings_are_refused(factor: int, in_sync: int) -> None:
    kafka = KafkaSettings(replication_factor=factor, min_insync_replicas=in_sync)
    with pytest.raises(ValueError, match="MIN_INSYNC_REPLICAS"):
        new_topics(kafka)


def test_the_registry_topic_must_be_its_own() -> None:
    with pytest.raises(ValueError, match="must differ"):
        new_topics(KafkaSettings(events_topic="e", registry_topic_name="e"))


@pytest.mark.integration
def test_ensure_topics_creates_the_three_topics_on_the_broker(settings: Settings) -> None:
    kafka = replace(
        settings.kafka, events_topic=settings.kafka.events_topic + ".rf", replication_factor=3
    )
    ensure_topics(kafka)
    ensure_topics(kafka)  # again: nothing to do
    admin = KafkaAdminClient(**kafka.client_options())
    try:
        names = [kafka.events_topic, kafka.registry_topic, kafka.dead_letter_topic]
        described = admin.describe_topics(names)
    finally:
        admin.close()
    assert sorted(t["name"] for t in described) == sorted(names)
    for topic in described:
        assert len(topic["partitions"]) == kafka.partitions
        assert {len(p["replica_nodes"]) for p in topic["partitions"]} == {3}


@pytest.mark.integration
def test_the_test_fixtures_use_one_copy(settings: Settings) -> None:
    assert (settings.kafka.replication_factor, settings.kafka.min_insync_replicas) == (1, 1)
