"""Calls and events too large for Kafka, on the real broker, worker and query service.

- The issue's reproduction: 200 params of 6,000 characters in one call are split into
  events under the producer's limit; every param and the metric logged after them are
  queryable.
- An event a producer refuses for good (here: one an earlier process spooled with a
  larger max_request_size, then exited before sending) is quarantined by the next
  process on the same spool directory, which sends the rest of the backlog and its own
  events at once; `tracklog spool list` shows it and `tracklog spool resend` delivers
  it once the limit is raised.
- The worker dead-letters a record larger than TRACKLOG_MAX_EVENT_BYTES at decode,
  cut to fit the dead-letter topic, and `tracklog dlq replay` leaves it alone.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from tests.e2e.pipeline import running_pipeline, wait_until
from tests.producer.spool.test_kafka import broker_for, unreachable
from tests.producer.test_kafka_delivery import of, read_topic
from tracklog import Session
from tracklog.contract.settings import Settings
from tracklog.deploy.cli import main as cli
from tracklog.ingest.dead_letters.reader import read_dead_letters
from tracklog.ingest.dead_letters.replay import replay
from tracklog.spool.quarantine import listing
from tracklog.v1.events_pb2 import RUN_STATUS_FINISHED

pytestmark = pytest.mark.integration


def test_the_issues_reproduction_every_param_and_the_metric_after_arrive(
    settings: Settings, clickhouse_client: Any
) -> None:
    params = {f"p{i}": "x" * 6000 for i in range(200)}
    with running_pipeline(settings, clickhouse_client) as pipeline:
        session = Session(settings.kafka, query_addr=pipeline.address)
        with session.start_run() as run:
            session.log_params(params)  # accepted: 1.2 MB, split into events
            session.log_metric("after", 1.0)
        assert session.flush(60)
        session.close(10)
        got = wait_until(
            lambda: (r := pipeline.get_run(run.run_id)).info.status == RUN_STATUS_FINISHED and r,
            what="the run to be projected",
        )
    assert {p.key: p.value for p in got.data.params} == params
    assert {m.key: m.value for m in got.data.metrics}["after"] == 1.0
    sizes = [len(e.SerializeToString()) for e in of(read_topic(settings, 6), run.run_id)]
    print(f"events of the run: {len(sizes)}, largest {max(sizes):,} bytes")
    assert max(sizes) <= 1_048_576 // 2


CHILD = textwrap.dedent(
    """
    import sys
    from tracklog import Session
    from tracklog.contract.settings import KafkaSettings

    kafka = KafkaSettings(bootstrap_servers=sys.argv[1], events_topic=sys.argv[2])
    # an SDK configured for larger requests than the next process: its 1.3 MB metrics
    # event is one event, which the next process's producer (1 MiB) refuses for good
    session = Session(
        kafka,
        max_batch_bytes=8 << 20,
        producer_options={"max_request_size": 8 << 20},
        query_addr="",
    )
    with session.start_run() as run:
        session.log_metrics({f"{'k' * 100}{i}": float(i) for i in range(10_000)})
        session.log_metric("after", 1.0)
    print(run.run_id, flush=True)
    session.close(1.0)
    """
)


def test_an_event_kafka_refuses_is_quarantined_and_blocks_nothing_behind_it(
    settings: Settings,
    tmp_path: Path,
    spool_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # in-process sending: the next process's own producer refuses the child's event (a
    # shipper process would send it with the settings of the session that made it)
    monkeypatch.setenv("TRACKLOG_SHIPPER", "thread")
    settings = unreachable(settings)  # the child cannot send: it leaves its spool
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            settings.kafka.bootstrap_servers,
            settings.kafka.events_topic,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    old_run = child.stdout.strip()
    assert "pending in the spool" in child.stderr

    with broker_for(settings, tmp_path / "tansu.log"):
        second = Session(settings.kafka, query_addr="")  # the default 1 MiB requests
        with second.start_run() as run:
            second.log_metric("mine", 2.0)
        assert second.flush(60), "the second process was blocked behind the refused event"
        spooled = second.spool
        assert spooled is not None
        wait_until(lambda: spooled.quarantined == (1, 10_000), what="the refused event to move")
        second.close(10)
        messages = read_topic(settings, expected=5)
        old = of(messages, old_run)
        assert [e.WhichOneof("payload") for e in old] == [
            "run_started",
            "metrics_logged",
            "run_ended",
        ]  # all but the refused event
        assert list(old[1].metrics_logged.keys) == ["after"]
        assert [e.WhichOneof("payload") for e in of(messages, run.run_id)][-1] == "run_ended"

        monkeypatch.setenv("TRACKLOG_KAFKA_BOOTSTRAP", settings.kafka.bootstrap_servers)
        monkeypatch.setenv("TRACKLOG_EVENTS_TOPIC", settings.kafka.events_topic)
        assert cli.main(["spool", "list"]) == 0
        listed = capsys.readouterr().out
        assert "MessageSizeTooLargeError" in listed and f"metrics_logged of {old_run}" in listed
        assert "1 quarantined events in" in listed

        assert cli.main(["spool", "resend"]) == 1  # still too large for a 1 MiB producer
        assert "still refused" in capsys.readouterr().out
        monkeypatch.setenv("TRACKLOG_MAX_EVENT_BYTES", str(8 << 20))  # the fix
        assert cli.main(["spool", "resend"]) == 0
        assert "resent 1 of 1 events" in capsys.readouterr().out
        resent = of(read_topic(settings, expected=6), old_run)
        assert [len(e.metrics_logged.keys) for e in resent] == [0, 1, 0, 10_000]
    assert list(listing(spool_dir)) == []
    assert [r.resent for r in listing(spool_dir, include_resent=True)] == [True]


def test_the_worker_dead_letters_a_record_over_the_event_limit_cut_to_fit(
    settings: Settings, clickhouse_client: Any
) -> None:
    small = replace(settings, kafka=replace(settings.kafka, max_event_bytes=256 * 1024))
    producer = KafkaProducer(**settings.kafka.client_options(), max_request_size=4 << 20)
    big = producer.send(small.kafka.events_topic, key=b"run-x", value=b"\x0a" * (1 << 20))
    meta = big.get(timeout=30)
    producer.close()
    with running_pipeline(small, clickhouse_client):
        letters = wait_until(
            lambda: read_dead_letters(small.kafka, timeout=5).letters, what="the dead letter"
        )
    (letter,) = letters
    assert letter.reason.startswith("event too large: 1,048,576 bytes")
    assert (letter.source_partition, letter.source_offset) == (meta.partition, meta.offset)
    assert letter.truncated_from == 1 << 20 and letter.size < 256 * 1024
    report = replay(small)
    assert report.truncated == 1 and report.replayed == ()
