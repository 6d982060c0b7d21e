"""`tracklog replay`, between the archive and the worker: the records the live models held
but the archive does not (a worker killed before its last archive write), read from
Kafka up to where the live models were and written WITHOUT dead letters (the live
worker sent those already). What lies beyond is new to the models: the worker that
catches up (rebuild.catch_up) projects it with dead letters, as usual.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from tracklog.contract.settings import ArtifactRootSettings, Settings
from tracklog.contract.topics import Partition
from tracklog.ingest.consumer import CHECK_CRCS, log_namer, records_of
from tracklog.ingest.dead_letters.poison import write_through
from tracklog.ingest.decode.authority import TopicAuthority
from tracklog.ingest.locations import project_checked
from tracklog.ingest.writers.batch import BatchWriter

log = logging.getLogger(__name__)

PROJECTION = "postgres"  # the worker's projection name in projection_offsets


def live_positions(settings: Settings) -> dict[Partition, int]:
    """The last offset the read models applied per (log, partition); read before a wipe."""
    with psycopg.connect(settings.postgres_dsn) as conn:
        found = conn.execute("SELECT to_regclass('projection_offsets') IS NOT NULL").fetchone()
        if not found or not found[0]:
            return {}
        rows = conn.execute(
            "SELECT topic, partition, last_offset FROM projection_offsets WHERE projection = %s",
            (PROJECTION,),
        ).fetchall()
    return {(str(t), int(p)): int(o) for t, p, o in rows}


def replay_kafka(
    settings: Settings,
    clickhouse: Any,
    upto: dict[Partition, int],
    *,
    chunk_records: int = 5_000,
    timeout: float = 600.0,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Write the events and registry topics' records after the stores' positions and up to
    `upto`; (events, points) written."""
    writer = BatchWriter(settings, clickhouse)
    consumer = KafkaConsumer(
        **settings.kafka.client_options(),
        client_id="tracklog-replay",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=chunk_records,
        check_crcs=CHECK_CRCS,
    )
    events = points = 0
    try:
        authority = TopicAuthority.of(settings.kafka, writer.postgres.registry_history())
        roots = ArtifactRootSettings.from_env(root=settings.artifact_root)
        name = log_namer(consumer)
        todo: dict[TopicPartition, int] = {}
        starts: dict[TopicPartition, int] = {}
        for topic in (settings.kafka.events_topic, settings.kafka.registry_topic):
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
            current = name(topic)
            stored = writer.postgres.positions([(current, p) for p in partitions])
            for p in partitions:
                last, done = upto.get((current, p), -1), stored.get((current, p), -1)
                if last > done:
                    todo[TopicPartition(topic, p)] = last
                    starts[TopicPartition(topic, p)] = done + 1
        if on_start is not None:
            on_start(sum(last - starts[tp] + 1 for tp, last in todo.items()))
        if not todo:
            return 0, 0
        consumer.assign(list(todo))
        for tp, start in starts.items():
            consumer.seek(tp, start)
        deadline = time.monotonic() + timeout
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading Kafka up to the live positions took over {timeout} s")
            records = [
                r
                for r in records_of(consumer.poll(timeout_ms=500), name)
                if r.position.offset <= upto.get((r.position.log, r.position.partition), -1)
            ]
            if records:
                batch = project_checked(records, settings.kafka.max_event_bytes, authority, roots)
                written = write_through(writer, batch)
                events += len(records)
                points += written.points
                if progress is not None:
                    progress(events, points)
            for tp in [tp for tp, last in todo.items() if consumer.position(tp) > last]:
                consumer.pause(tp)
                del todo[tp]
    finally:
        consumer.close()
        writer.close()
    log.info("replayed %d events (%d points) from Kafka up to the live positions", events, points)
    return events, points
