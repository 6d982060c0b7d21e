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
    """Create the events and dead-letter topics if they do not exist yet."""
    admin = KafkaAdminClient(**kafka.client_options(), client_id="tracklog-admin")
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(name, kafka.partitions, kafka.replication_factor)
            for name in (kafka.events_topic, kafka.dead_letter_topic)
            if name not in existing
        ]
        if wanted:
            # another process may create it between list and create
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(wanted)
    finally:
        admin.close()


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
