"""The worker's Prometheus endpoint with the real pipeline: SDK -> broker -> worker, then a
scrape (raw and through `tracklog status --json`) that must match what was logged."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from tests.e2e.pipeline import running_pipeline, wait_until
from tracklog import Session
from tracklog.contract.settings import Settings
from tracklog.deploy.cli.main import main
from tracklog.deploy.cli.status import WorkerStatus, parse_status

pytestmark = pytest.mark.integration

STEPS = 300
KEYS = ("loss", "acc", "lr")


def records_on_topic(settings: Settings) -> int:
    """Records on the events topic, from its high-water marks (manual assignment, no group;
    Tansu's end offsets are not reliable, so poll until every partition has a high-water)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers)
    try:
        topic = settings.kafka.events_topic
        partitions = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
        consumer.assign(partitions)

        def highwaters() -> list[int] | None:
            consumer.poll(timeout_ms=100)
            marks = [consumer.highwater(tp) for tp in partitions]
            return None if None in marks else [m for m in marks if m is not None]

        return sum(wait_until(highwaters, 30, "the topic's high-water marks"))
    finally:
        consumer.close()


def scrape(port: int) -> WorkerStatus:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return parse_status(response.read().decode())


def test_worker_serves_what_it_ingested(
    settings: Settings, clickhouse_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = replace(settings, metrics_addr="127.0.0.1:0")
    with running_pipeline(settings, clickhouse_client) as pipeline:
        server = wait_until(lambda: pipeline.worker.metrics_server, 30, "the metrics endpoint")
        before = scrape(server.port)
        assert (before.events_total, before.points_total, before.paused) == (0, 0, False)

        session = Session(settings.kafka, linger_seconds=0.005, query_addr=pipeline.address)
        session.set_experiment("observed")
        with session.start_run(run_name="metered"):
            for step in range(STEPS):
                session.log_metrics({k: step / (i + 1) for i, k in enumerate(KEYS)}, step=step)
        assert session.flush(30)
        session.close(10)
        events = records_on_topic(settings)

        def caught_up() -> WorkerStatus | None:
            status = scrape(server.port)
            done = status.events_total >= events and status.total_lag == 0
            return status if done else None

        status = wait_until(caught_up, 60, f"{events} events written and no lag")
        print(f"events {status.events_total}, points {status.points_total}, lag {status.lag}")
        assert status.points_total == STEPS * len(KEYS)
        assert status.events_total == events
        topics = (settings.kafka.events_topic, settings.kafka.registry_topic)  # both consumed
        assert {(p.topic, p.partition) for p in status.lag} == {
            (topic, p) for topic in topics for p in range(settings.kafka.partitions)
        }
        assert status.events_per_second > 0 and status.points_per_second > 0
        assert status.batch_write.batches >= 1
        assert status.batch_write.p50_seconds is not None
        assert status.dead_letters_total == 0
        assert not status.paused

        capsys.readouterr()
        assert main(["status", "--json", "--metrics-addr", f"127.0.0.1:{server.port}"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["points_total"] == STEPS * len(KEYS)
        assert printed["total_lag"] == 0
    with pytest.raises(OSError):  # the endpoint closes with the worker
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=2)
