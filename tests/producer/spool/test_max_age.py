"""Spooled records older than TRACKLOG_SPOOL_MAX_AGE_DAYS are not sent (issue 12, item 7):
the worker may have forgotten their ids, so they go to the spool's quarantine with a
warning naming their age, where `tracklog spool list` shows them and `resend` can send
them on purpose. Real segments, fake Kafka; the last test with the real broker."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from tests.producer.spool.test_quarantine import SizeCheckingSink, UnauthorizedSink
from tests.producer.spool.test_spooling_sink import Acks, spool, wait_for
from tests.producer.test_kafka_delivery import read_topic
from tracklog.contract.settings import Settings, SpoolSettings
from tracklog.deploy.cli import main as cli
from tracklog.sending.sink import KafkaSink
from tracklog.spool.quarantine import TooOldToSend, listing
from tracklog.spool.spooling_sink import SpoolingSink, spool_producer_options, spool_target
from tracklog.v1 import events_pb2 as pb

DAY = 86_400


def envelope(event_id: str, days_ago: float) -> bytes:
    e = pb.Envelope(event_id=event_id, aggregate_id="run0")
    e.occurred_at.FromNanoseconds(int((time.time() - days_ago * DAY) * 1e9))
    return e.SerializeToString()


def delivered_ids(delivered: list[bytes]) -> list[str]:
    return [pb.Envelope.FromString(v).event_id for v in delivered]


def test_an_adopted_backlog_s_old_records_go_to_the_quarantine_unsent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a process that never got anything out (and sent any age)
    first = spool(tmp_path, UnauthorizedSink, max_age_days=0)
    for i, days in enumerate((10, 12, 1)):
        first.send_weighed(b"run0", envelope(f"e{i}", days), 3, Acks().callback(i))
    first.close(0.2)

    delivered: list[bytes] = []
    acks = Acks()
    with caplog.at_level(logging.WARNING, logger="tracklog.spool.shipper"):
        second = spool(tmp_path, lambda: SizeCheckingSink(delivered, limit=10_000))
        second.send(b"run0", envelope("own", 0), acks.callback(0))
        wait_for(lambda: acks.ok() == [0])
    assert delivered_ids(delivered) == ["e2", "own"]  # the old ones are not sent
    assert second.quarantined == (2, 6)
    second.close(5)
    kept = list(listing(tmp_path))
    assert [pb.Envelope.FromString(r.value).event_id for r in kept] == ["e0", "e1"]
    assert "TooOldToSend: the event happened 10.0 days ago" in kept[0].reason
    assert "TRACKLOG_SPOOL_MAX_AGE_DAYS=7" in kept[0].reason
    assert "not sending an event 10.0 days old" in caplog.text
    assert "tracklog spool resend" in caplog.text


def test_an_own_record_past_the_age_reports_the_error_to_its_caller(tmp_path: Path) -> None:
    delivered: list[bytes] = []
    acks = Acks()
    spooled = spool(tmp_path, lambda: SizeCheckingSink(delivered, limit=10_000), max_age_days=2)
    spooled.send(b"run0", envelope("late", 3), acks.callback(0))
    spooled.send(b"run0", envelope("fresh", 1), acks.callback(1))
    wait_for(lambda: len(acks.results) == 2)
    assert acks.ok() == [1]
    (refused,) = [error for i, error in acks.results if i == 0]
    assert isinstance(refused, TooOldToSend) and refused.age_days == pytest.approx(3, abs=0.01)
    assert delivered_ids(delivered) == ["fresh"]
    spooled.close(5)


def test_a_zero_max_age_and_records_without_a_time_are_sent(tmp_path: Path) -> None:
    delivered: list[bytes] = []
    acks = Acks()
    spooled = spool(tmp_path, lambda: SizeCheckingSink(delivered, limit=10_000), max_age_days=0)
    spooled.send(b"run0", envelope("ancient", 400), acks.callback(0))
    spooled.send(b"run0", b"not an envelope", acks.callback(1))
    wait_for(lambda: acks.ok() == [0, 1])
    spooled.close(5)
    assert list(listing(tmp_path)) == []


def test_the_max_age_setting() -> None:
    assert SpoolSettings.from_env({"TRACKLOG_SPOOL_DIR": "off"}).max_age_days == 7.0
    got = SpoolSettings.from_env({"TRACKLOG_SPOOL_DIR": "off", "TRACKLOG_SPOOL_MAX_AGE_DAYS": "2"})
    assert got.max_age_days == 2.0
    with pytest.raises(ValueError, match="TRACKLOG_SPOOL_MAX_AGE_DAYS"):
        SpoolSettings(directory=None, max_age_days=-1)


@pytest.mark.integration
def test_through_a_real_broker_only_the_recent_event_reaches_the_topic(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def kafka() -> KafkaSink:
        return KafkaSink(settings.kafka, producer_options=spool_producer_options(None))

    spooled = SpoolingSink(
        SpoolSettings(directory=tmp_path / "spool"), kafka, spool_target(settings.kafka)
    )
    acks = Acks()
    spooled.send(b"run0", envelope("old", 9), acks.callback(0))
    spooled.send(b"run0", envelope("new", 0), acks.callback(1))
    wait_for(lambda: len(acks.results) == 2, timeout=30)
    spooled.close(10)
    assert acks.ok() == [1]
    assert [e.event_id for _, e in read_topic(settings, expected=1)] == ["new"]
    kept = listing(tmp_path / "spool")
    assert [pb.Envelope.FromString(r.value).event_id for r in kept] == ["old"]

    # `tracklog spool list` shows it and why; `resend` sends it on purpose, with a note
    monkeypatch.setenv("TRACKLOG_KAFKA_BOOTSTRAP", settings.kafka.bootstrap_servers)
    monkeypatch.setenv("TRACKLOG_EVENTS_TOPIC", settings.kafka.events_topic)
    spool_dir = str(tmp_path / "spool")
    assert cli.main(["spool", "list", "--dir", spool_dir]) == 0
    assert "TooOldToSend: the event happened 9.0 days ago" in capsys.readouterr().out
    assert cli.main(["spool", "resend", "--dir", spool_dir]) == 0
    assert "kept back for their age" in capsys.readouterr().out
    assert [e.event_id for _, e in read_topic(settings, expected=2)] == ["new", "old"]
