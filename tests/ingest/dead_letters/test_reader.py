"""Reading the dead-letter topic and replaying it: real broker, Postgres and chDB."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from kafka import KafkaProducer

from tests.e2e.pipeline import running_pipeline, wait_until
from tests.ingest.events import experiment_created, run_started
from tracklog.contract.settings import Settings
from tracklog.ingest.dead_letters.reader import dead_letter_of, read_dead_letters
from tracklog.ingest.dead_letters.replay import replay


def test_a_dead_letter_is_parsed_from_its_headers() -> None:
    headers = [
        ("reason", b"undecodable envelope: truncated"),
        ("source_topic", b"tracklog.events"),
        ("source_partition", b"3"),
        ("source_offset", b"41"),
        ("detail", None),
    ]
    letter = dead_letter_of(1, 7, 1_700_000_000_000, b"k", b"\x08\xff", headers)
    assert (letter.partition, letter.offset, letter.size) == (1, 7, 2)
    assert letter.source == ("tracklog.events", 3, 41)
    assert (letter.reason, letter.detail) == ("undecodable envelope: truncated", "")
    assert letter.matches("UNDECODABLE") and letter.matches(None) and not letter.matches("param")
    assert letter.as_json()["key"] == "k"
    bare = dead_letter_of(0, 0, 0, None, None, [("source_offset", b"x")])
    assert bare.source == ("", None, None) and bare.value == b"" and bare.reason == ""


def _place_on_dlq(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    """Dead letters written by hand, as the worker writes them."""
    producer = KafkaProducer(**settings.kafka.client_options(), acks="all")
    try:
        for offset, (key, value) in enumerate(records):
            headers = [
                ("reason", b"unsupported payload 'model_trained'"),
                ("source_topic", settings.kafka.events_topic.encode()),
                ("source_partition", b"0"),
                ("source_offset", str(1000 + offset).encode()),
            ]
            producer.send(settings.kafka.dead_letter_topic, key=key, value=value, headers=headers)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


@pytest.mark.integration
def test_replayed_valid_dead_letters_are_projected_once(
    settings: Settings, clickhouse_client: Any
) -> None:
    events = [experiment_created("e1", "fixed"), run_started("r1", "e1", "from-the-dlq")]
    _place_on_dlq(settings, [(e.aggregate_id.encode(), e.SerializeToString()) for e in events])
    assert len(read_dead_letters(settings.kafka).letters) == 2

    def run_names() -> list[tuple[str, str]]:
        with psycopg.connect(settings.postgres_dsn) as conn:
            return [(str(r), str(n)) for r, n in conn.execute("SELECT run_id, run_name FROM runs")]

    with running_pipeline(settings, clickhouse_client) as pipeline:
        dry = replay(settings, dry_run=True)
        assert (dry.dead_letters, dry.matching, len(dry.replayed)) == (2, 2, 2)
        assert all(r.partition is None for r in dry.replayed)
        first = replay(settings, reason="unsupported payload")
        assert len(first.replayed) == 2 and first.already_replayed == 0
        assert all(r.offset is not None for r in first.replayed)
        wait_until(run_names, what="the replayed run")
        wait_until(pipeline.worker.drained, what="the worker to drain")
        second = replay(settings)
        assert (len(second.replayed), second.already_replayed) == (0, 2)
    assert run_names() == [("r1", "from-the-dlq")]
    assert len(read_dead_letters(settings.kafka).letters) == 2  # nothing dead-lettered again
