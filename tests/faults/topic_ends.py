"""How many records a topic holds, per partition, read the way Tansu tells it truly."""

from __future__ import annotations

import time

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from tracklog.contract.settings import Settings


def end_offsets(settings: Settings, topic: str, timeout: float = 30.0) -> dict[int, int]:
    """Per partition, the offset after the last record (read to the end: on Tansu neither
    end_offsets nor seek_to_end tell it reliably, on s3 storage least of all; the
    high-water mark of a fetch does)."""
    consumer = KafkaConsumer(
        **settings.kafka.client_options(),
        enable_auto_commit=False,
        fetch_max_wait_ms=settings.kafka.fetch_max_wait_ms,  # Tansu on s3 needs ~200 ms
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)
            highs = {tp: consumer.highwater(tp) for tp in partitions}
            if all(h is not None and consumer.position(tp) >= h for tp, h in highs.items()):
                return {tp.partition: int(h) for tp, h in highs.items() if h is not None}
        raise AssertionError(f"could not read {topic} to its end in {timeout} s")
    finally:
        consumer.close()


def topic_records(settings: Settings, timeout: float = 30.0) -> int:
    """How many records the events topic holds (all partitions), for the tests' figures."""
    return sum(end_offsets(settings, settings.kafka.events_topic, timeout).values())
