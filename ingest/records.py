"""What the worker moves around: a Kafka record and its position in the log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a record sits in the log: (log name, partition, offset); see `log_name`."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed Kafka message, detached from the client library."""

    position: Position
    key: bytes | None
    value: bytes | None


def log_name(topic: str, topic_id: uuid.UUID | None) -> str:
    """The stores' name for one incarnation of a topic: `topic@<topic id>`.

    Offsets only mean something within one incarnation of a topic: a topic that
    is deleted and created again (or an in-memory broker that restarts) starts
    again at offset 0. Positions in both stores are therefore keyed by the topic
    name plus the topic id Kafka (2.8+) assigns at creation; without an id the
    plain name is used.
    """
    return f"{topic}@{topic_id.hex}" if topic_id is not None and topic_id.int else topic


def topic_of(log: str) -> str:
    """The Kafka topic of a log name (topic names cannot contain '@')."""
    return log.split("@", 1)[0]
