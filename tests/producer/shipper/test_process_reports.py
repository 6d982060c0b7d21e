"""What a session in shipper mode tells its own process while the broker is away, as
in-process sending does: the spool's outage warning, and what the spool dropped."""

from __future__ import annotations

import logging
import time

import pytest

from tests.producer.spool.test_kafka import unreachable
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
