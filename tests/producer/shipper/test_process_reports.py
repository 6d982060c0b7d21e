"""A session in shipper mode while the broker is away: it tells its own process what
in-process sending would (the spool's outage warning, what the spool dropped), and what
a training process that exited meanwhile handed over arrives once the broker is there."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.producer.shipper.test_shipper_process import CHILD
from tests.producer.spool.test_kafka import broker_for, unreachable
from tests.producer.test_kafka_delivery import of, read_topic
from tracklog import Session
from tracklog.contract.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def shipper_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKLOG_SHIPPER", "process")


def wait_for(caplog: pytest.LogCaptureFixture, text: str, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while text not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    return text in caplog.text


def test_the_shippers_outage_warning_shows_in_the_training_process(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = unreachable(settings)
    with caplog.at_level(logging.WARNING):
        session = Session(settings.kafka)
        with session.start_run():
            for step in range(100):
                session.log_metric("loss", 0.5, step=step)
        assert not session.flush(0.5)
        assert wait_for(caplog, "events stay in the spool and are re-sent")
        assert session.spool is not None and session.spool.pending()[1] == 100
        session.close(0.5)
    [outage] = [r for r in caplog.records if "cannot send to Kafka" in r.getMessage()]
    assert outage.name == "tracklog.spool.shipper" and outage.levelno == logging.WARNING
    assert "pending in the spool at" in caplog.text


def test_events_the_shippers_spool_dropped_are_reported_to_the_session(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TRACKLOG_SPOOL_MAX_BYTES", "4096")
    monkeypatch.setenv("TRACKLOG_SPOOL_ON_FULL", "drop")
    settings = unreachable(settings)
    with caplog.at_level(logging.WARNING):
        session = Session(settings.kafka, max_batch_points=100)
        with session.start_run():
            for step in range(1000):
                session.log_metric("loss", 0.5, step=step)
        assert not session.flush(5)
        assert session.spool is not None
        deadline = time.monotonic() + 30
        while session.spool.dropped == (0, 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        dropped_events, dropped_points = session.spool.dropped
        assert dropped_events >= 5 and dropped_points >= 500
        assert wait_for(caplog, "dropped so far")  # the spool's own error, logged again
        session.close(0.5)
    assert f"{dropped_events} events ({dropped_points} metric points) were dropped" in (caplog.text)
    assert session.spool.quarantined == (0, 0)


def test_what_an_exited_process_handed_over_is_sent_once_the_broker_is_there(
    settings: Settings, tmp_path: Path
) -> None:
    settings = unreachable(settings)
    steps = 5000
    after = "print(session.close(2.0), flush=True)"
    code = CHILD.format(steps=steps, after=after)
    kafka = settings.kafka
    child = subprocess.run(
        [sys.executable, "-c", code, kafka.bootstrap_servers, kafka.events_topic],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    run_id = child.stdout.split()[0]
    assert "pending in the spool at" in child.stderr  # and the shipper keeps sending them
    with broker_for(settings, tmp_path / "tansu.log"):
        events = of(read_topic(settings, expected=3, timeout=90), run_id)
    assert sum(len(e.metrics_logged.keys) for e in events) == 2 * steps
    assert len({e.event_id for e in events}) == len(events)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
