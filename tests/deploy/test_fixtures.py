"""The fixture module gives each test working, isolated backends."""

from __future__ import annotations

import psycopg
from kafka.admin import KafkaAdminClient

from tracklog.contract.settings import Settings


def test_each_test_gets_its_own_topic_and_databases(settings: Settings, clickhouse_client) -> None:  # type: ignore[no-untyped-def]
    admin = KafkaAdminClient(**settings.kafka.client_options())
    try:
        topics = set(admin.list_topics())
    finally:
        admin.close()
    assert {settings.kafka.events_topic, settings.kafka.dead_letter_topic} <= topics
    with psycopg.connect(settings.postgres_dsn) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
    assert row == (settings.clickhouse_database,)
    clickhouse_client.command(f"CREATE DATABASE IF NOT EXISTS {settings.clickhouse_database}")
    assert clickhouse_client.query("SELECT 1").result_rows == [(1,)]
