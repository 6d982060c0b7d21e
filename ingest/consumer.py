"""The Kafka side of the worker: the consumer and where it resumes after a rebalance.

Offsets are committed by the worker only after both stores hold a batch, so the
committed offset is always safe. On assignment the listener asks the stores how
far they got and seeks past what Postgres has applied: ClickHouse is written
before Postgres for every batch, so Postgres' tracked offset is a lower bound
for both stores (the ClickHouse writer still filters by its own high-water
mark). A store that cannot answer leaves the committed offset in place; the
stores' own filters keep the replay harmless either way.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.structs import TopicPartition

from tracklog.contract.settings import Settings
from tracklog.contract.topics import LogName, Partition, log_name, topic_of
from tracklog.ingest.records import Position, Record

log = logging.getLogger(__name__)

MAX_POLL_RECORDS = 5000
# Bytes (compressed, as stored) one fetch brings, over all partitions and per partition;
# a record batch larger than either still comes whole. A polled batch is at most what
# the fetches buffered, so these bound the memory of a batch in flight (its records,
# envelopes, columns, insert block: about 3 times the decompressed size) and let the
# first batch start sooner, while the client's I/O thread fetches the next: 2 MiB of
# zstd batches is about 250,000 metric points.
FETCH_MAX_BYTES = 2 * 1024 * 1024
PARTITION_FETCH_MAX_BYTES = 1024 * 1024
# kafka-python checks record-batch CRCs with the `crc32c` C package when it is
# installed; its pure-Python fallback runs at ~10 MB/s (about 2.8 s of CPU per
# million metric points, more than all other ingest work). Without the C package
# the check is skipped (brokers verify CRCs on produce; protobuf decoding still
# rejects damaged payloads).
CHECK_CRCS = importlib.util.find_spec("crc32c") is not None


def create_consumer(settings: Settings, max_poll_records: int = MAX_POLL_RECORDS) -> Any:
    kafka = settings.kafka
    return KafkaConsumer(
        **kafka.client_options(),
        client_id="tracklog-ingest",
        group_id=settings.consumer_group,
        group_instance_id=settings.consumer_instance_id or None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=kafka.session_timeout_ms,
        heartbeat_interval_ms=kafka.heartbeat_interval_ms,
        max_poll_records=max_poll_records,
        check_crcs=CHECK_CRCS,
        # idle latency of a new event vs. idle fetches (a busy topic fills fetches at once)
        fetch_max_wait_ms=kafka.fetch_max_wait_ms,
        fetch_max_bytes=FETCH_MAX_BYTES,
        max_partition_fetch_bytes=PARTITION_FETCH_MAX_BYTES,
        receive_buffer_bytes=4 * 1024 * 1024,
    )


def records_of(polled: Mapping[Any, Iterable[Any]], log: Callable[[str], str]) -> list[Record]:
    """kafka-python's ConsumerRecords -> our Records, partition by partition in offset order.

    `log` names the topic's current incarnation (see topics.log_name).
    """
    records: list[Record] = []
    for tp, messages in polled.items():
        name = log(tp.topic)
        records.extend(
            Record(Position(name, m.partition, m.offset), m.key, m.value) for m in messages
        )
    return records


def log_namer(consumer: Any) -> Callable[[str], str]:
    """topic -> `topic@<topic id>` from the consumer's cluster metadata (kept up to date)."""
    cluster = consumer._client.cluster  # kafka-python keeps topic ids from Metadata v10+

    def name(topic: str) -> str:
        return log_name(topic, cluster.topic_id(topic))

    return name


class ResumeFromStores(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks newly assigned partitions to the offset the stores resume from.

    The callbacks see partitions of logs (`log` names a topic's current incarnation).
    """

    def __init__(
        self,
        consumer: Any,
        log: Callable[[str], LogName],
        resume_offsets: Callable[[list[Partition]], dict[Partition, int]],
        revoked: Callable[[list[Partition]], None],
    ) -> None:
        self._consumer = consumer
        self._log = log
        self._resume_offsets = resume_offsets
        self._revoked = revoked

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self._revoked([(self._log(tp.topic), tp.partition) for tp in revoked])

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        partitions = sorted((self._log(tp.topic), tp.partition) for tp in assigned)
        log.info("assigned %s", partitions)
        try:
            resume = self._resume_offsets(partitions)
        except Exception:
            log.exception("stores did not say where to resume; keeping the committed offsets")
            return
        for (name, partition), offset in sorted(resume.items()):
            self._consumer.seek(TopicPartition(topic_of(name), partition), offset)


def lag_by_partition(consumer: Any) -> dict[tuple[str, int], int] | None:
    """(topic, partition) -> highwater - position over the assignment; None if unknown.

    From the consumer's high-water marks (Tansu's end_offsets are not reliable).
    """
    assignment = consumer.assignment()
    if not assignment:
        return None
    lags: dict[tuple[str, int], int] = {}
    for tp in assignment:
        highwater = consumer.highwater(tp)
        position = None if highwater is None else consumer.position(tp, timeout_ms=1000)
        if highwater is None or position is None:
            return None
        lags[(tp.topic, tp.partition)] = max(0, highwater - position)
    return lags


def idle_poll(consumer: Any, stop: threading.Event, seconds: float) -> bool:
    """Poll with every partition paused for `seconds` (the consumer stays in its group,
    and a rebalance runs its listener); False once stop is set."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        if stop.is_set():
            return False
        polled = consumer.poll(timeout_ms=max(1, int(min(remaining, 0.2) * 1000)))
        for tp, messages in polled.items():  # not expected while paused: read them again
            if messages:
                consumer.seek(tp, messages[0].offset)
    return not stop.is_set()
