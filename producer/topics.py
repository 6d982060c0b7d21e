"""Create Tracklog's topics explicitly (never rely on broker auto-creation)."""

from __future__ import annotations

import contextlib

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from tracklog.settings import KafkaSettings


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
