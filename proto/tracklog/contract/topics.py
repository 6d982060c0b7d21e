"""Create Tracklog's topics explicitly (never rely on broker auto-creation); name a topic's
incarnation (`log_name`), the key of stored positions shared by ingest and the registry.

`LogName` and `Partition` are the one spelling of a position's parts everywhere: a
partition of a log is `(log name, partition number)`, never a bare topic name.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TypeAlias

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from tracklog.contract.settings import KafkaSettings

LogName: TypeAlias = str
"""One incarnation of a topic, `topic@<topic id hex>` (see `log_name`)."""

Partition: TypeAlias = tuple[LogName, int]
"""A partition of one log: (log name, partition number)."""


def ensure_topics(kafka: KafkaSettings) -> None:
    """Create the events, registry and dead-letter topics if they do not exist yet, each
    with the replication factor and `min.insync.replicas` of the settings (see
    `new_topics`). Existing topics are left as they are."""
    admin = KafkaAdminClient(**kafka.client_options(), client_id="tracklog-admin")
    try:
        existing = set(admin.list_topics())
        wanted = [topic for topic in new_topics(kafka) if topic.name not in existing]
        if wanted:
            # another process may create it between list and create
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(wanted)
    finally:
        admin.close()


def new_topics(kafka: KafkaSettings) -> list[NewTopic]:
    """The topics Tracklog needs: events (training jobs write), registry (the registry
    service alone writes) and dead letters (the worker writes), all with `partitions`,
    `replication_factor` copies and `min.insync.replicas` (a write with acks=all is
    acknowledged once that many copies hold it)."""
    if not 1 <= kafka.min_insync_replicas <= kafka.replication_factor:
        raise ValueError(
            f"TRACKLOG_TOPIC_MIN_INSYNC_REPLICAS ({kafka.min_insync_replicas}) must be from 1 "
            f"to TRACKLOG_TOPIC_REPLICATION_FACTOR ({kafka.replication_factor})"
        )
    configs = {"min.insync.replicas": str(kafka.min_insync_replicas)}
    names = (kafka.events_topic, kafka.registry_topic, kafka.dead_letter_topic)
    if len(set(names)) != len(names):
        raise ValueError(f"the events, registry and dead-letter topics must differ: {names}")
    return [
        NewTopic(name, kafka.partitions, kafka.replication_factor, topic_configs=configs)
        for name in names
    ]


def log_name(topic: str, topic_id: uuid.UUID | None) -> LogName:
    """The stores' name for one incarnation of a topic: `topic@<topic id>`.

    Offsets only mean something within one incarnation of a topic: a topic that
    is deleted and created again (or an in-memory broker that restarts) starts
    again at offset 0. Positions in both stores are therefore keyed by the topic
    name plus the topic id Kafka (2.8+) assigns at creation; without an id the
    plain name is used.
    """
    return f"{topic}@{topic_id.hex}" if topic_id is not None and topic_id.int else topic


def topic_of(log: LogName) -> str:
    """The Kafka topic of a log name (topic names cannot contain '@')."""
    return log.split("@", 1)[0]
