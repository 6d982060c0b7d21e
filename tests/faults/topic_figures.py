"""How many records a topic holds, for the fault tests' figures."""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition

from tracklog.settings import Settings


def topic_records(settings: Settings, timeout: float = 30.0) -> int:
    """Sum of the events topic's high-water marks, as fetch responses report them
    (Tansu's list-offsets answers are not reliable, on s3 storage least of all)."""
    consumer = KafkaConsumer(
        **settings.kafka.client_options(),
        enable_auto_commit=False,
        fetch_max_wait_ms=settings.kafka.fetch_max_wait_ms,
        max_partition_fetch_bytes=1,  # only the high-water marks are wanted
    )
    try:
        topic = settings.kafka.events_topic
        parts = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
        consumer.assign(parts)
        deadline = time.monotonic() + timeout
        while any(consumer.highwater(tp) is None for tp in parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no high-water marks for {topic} in {timeout} s")
            consumer.poll(timeout_ms=200, max_records=1)
        return sum(int(consumer.highwater(tp)) for tp in parts)
    finally:
        consumer.close()
