"""Registry events from before they had their own topic: produce them where they were
written then (the events topic), and record them as history the way the upgrade does (the
migration that created `registry_history_bounds` copies what the stores had applied)."""

from __future__ import annotations

from collections.abc import Sequence
from unittest import mock

import psycopg
from kafka import KafkaProducer

from tracklog.contract.read_model import postgres_schema
from tracklog.contract.settings import Settings
from tracklog.contract.topics import Partition, log_name


def produce_to(
    settings: Settings, topic: str, messages: Sequence[tuple[bytes, bytes]]
) -> dict[Partition, int]:
    """Send (key, value) pairs to `topic` in order; the last offset per (log, partition)."""
    producer = KafkaProducer(**settings.kafka.client_options(), acks="all")
    try:
        sent = [producer.send(topic, key=key, value=value) for key, value in messages]
        producer.flush(timeout=30)
        log = log_name(topic, producer._metadata.topic_id(topic))
        last: dict[Partition, int] = {}
        for future in sent:
            metadata = future.get(timeout=30)
            where = (log, metadata.partition)
            last[where] = max(last.get(where, -1), metadata.offset)
        return last
    finally:
        producer.close(timeout=10)


def upgrade_after_applying(settings: Settings, applied: dict[Partition, int]) -> None:
    """A read model that had applied `applied` before the upgrade: the schema before the
    registry history migration with those tracking rows, then that migration (which records
    them as history), then the tracking rows forgotten, as `tracklog replay` wipes them, so
    that a worker reads the events again."""
    before = next(
        i for i, ddl in enumerate(postgres_schema.MIGRATIONS) if "registry_history_bounds" in ddl
    )
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        with mock.patch.object(postgres_schema, "MIGRATIONS", postgres_schema.MIGRATIONS[:before]):
            postgres_schema.migrate(conn)
        with conn.transaction():
            for (log, partition), offset in applied.items():
                conn.execute(
                    "INSERT INTO projection_offsets (projection, topic, partition, last_offset)"
                    " VALUES ('postgres', %s, %s, %s)",
                    (log, partition, offset),
                )
        postgres_schema.migrate(conn)
        conn.execute("DELETE FROM projection_offsets")


def history(settings: Settings) -> dict[Partition, int]:
    with psycopg.connect(settings.postgres_dsn) as conn:
        rows = conn.execute(
            "SELECT topic, partition, last_offset FROM registry_history_bounds"
        ).fetchall()
    return {(str(t), int(p)): int(o) for t, p, o in rows}
