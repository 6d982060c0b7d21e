"""The spool's shipper with in-memory stand-ins for Kafka: failures, unreadable or slow
adopted logs, and a close while the thread is stuck."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from tests.producer.spool.test_spooling_sink import AckingSink, Acks, HeldSink, spool, wait_for
from tracklog.sending.sink import DoneCallback, EventSink
from tracklog.spool.dirs import adopt_orphans
from tracklog.spool.segments import SegmentLog, SpooledRecord

TARGET = "broker:9092 topic"


class QueueingSink:
    """Like kafka-python: queues sends; ``close`` flushes them (they reach the partition
    and are acknowledged); ``abandon`` fails them without sending."""

    def __init__(self, partition: list[bytes]) -> None:
        self.partition = partition
        self.queued: list[tuple[bytes, DoneCallback]] = []
        self.abandoned = False

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        self.queued.append((value, on_done))

    def expire_first(self) -> None:
        """The oldest batch's delivery timeout expires; the later ones are still queued."""
        _, on_done = self.queued.pop(0)
        on_done(TimeoutError("delivery timeout"))

    def close(self, timeout: float) -> None:
        queued, self.queued = self.queued, []
        for value, on_done in queued:
            self.partition.append(value)
            on_done(None)

    def abandon(self) -> None:
        self.abandoned = True
        queued, self.queued = self.queued, []
        for _, on_done in queued:
            on_done(RuntimeError("producer closed forcefully"))


def test_after_a_failed_send_later_queued_sends_are_not_delivered_before_the_resend(
    tmp_path: Path,
) -> None:
    partition: list[bytes] = []
    first = QueueingSink(partition)
    sinks: list[EventSink] = [first, AckingSink(partition)]
    spooled = spool(tmp_path, lambda: sinks.pop(0))
    acks = Acks()
    for i in range(3):
        spooled.send(b"run", f"event {i}".encode(), acks.callback(i))
    wait_for(lambda: len(first.queued) == 3)
    first.expire_first()
    wait_for(lambda: acks.ok() == [0, 1, 2])
    first_copies = list(dict.fromkeys(partition))  # the worker keeps the first copy
    assert first_copies == [b"event 0", b"event 1", b"event 2"], partition
    assert first.abandoned
    spooled.close(5)


def adoptable(root: Path) -> list[Path]:
    """The directories of ``root`` nobody holds (claimed for a moment, then let go)."""
    claims = adopt_orphans(root, root / "none", TARGET)
    for claim in claims:
        claim.release(remove=False)
    return [claim.path for claim in claims]


def leave_backlog(root: Path, count: int) -> Path:
    """A spool directory left by an exited process, holding ``count`` unsent events."""
    exited = spool(root, HeldSink)
    for i in range(count):
        exited.send(b"run", f"old {i}".encode(), Acks().callback(i))
    exited.close(0.1)
    return exited.directory


def test_an_unreadable_adopted_directory_is_skipped_and_left_for_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bad = leave_backlog(tmp_path, 50)
    original = SegmentLog._read_at
    reads = [0]

    def failing(log: SegmentLog, seq: int, offset: int, end: int) -> SpooledRecord | None:
        if log.directory == bad:
            reads[0] += 1
            if reads[0] > 60:  # counted (50 reads), 10 sent, then the disk fails
                raise OSError(5, "Input/output error")
        return original(log, seq, offset, end)

    monkeypatch.setattr(SegmentLog, "_read_at", failing)
    delivered: list[bytes] = []
    acks = Acks()
    with caplog.at_level(logging.ERROR):
        spooled = spool(tmp_path, lambda: AckingSink(delivered))
        spooled.send(b"run", b"new", acks.callback(0))
        wait_for(lambda: acks.ok() == [0])
    assert delivered == [f"old {i}".encode() for i in range(10)] + [b"new"]
    assert f"cannot read {bad}" in caplog.text and "skipping the 40 events" in caplog.text
    assert adoptable(tmp_path) == [bad]  # released, not removed
    spooled.close(5)
    assert bad.exists()


def test_creating_the_spool_does_not_wait_for_reading_an_adopted_backlog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leave_backlog(tmp_path, 20)
    reading = threading.Event()
    read_by: list[threading.Thread] = []
    original = SegmentLog.pending

    def slow(log: SegmentLog) -> tuple[int, int, int]:
        read_by.append(threading.current_thread())
        reading.wait(30)  # a backlog of gigabytes
        return original(log)

    monkeypatch.setattr(SegmentLog, "pending", slow)
    delivered: list[bytes] = []
    spooled = spool(tmp_path, lambda: AckingSink(delivered))
    wait_for(lambda: bool(read_by))
    assert threading.current_thread() not in read_by  # counted on the shipper's thread
    assert spooled.pending() == (0, 0) and delivered == []
    reading.set()
    wait_for(lambda: len(delivered) == 20)
    spooled.close(5)
    assert list(tmp_path.iterdir()) == []


class StuckSink(HeldSink):
    """A send that blocks (a producer waiting on an absent broker) until released."""

    def __init__(self, *, abandon_unblocks: bool) -> None:
        super().__init__()
        self.release = threading.Event()
        self.sending = threading.Event()
        self.abandon_unblocks = abandon_unblocks

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        self.sending.set()
        self.release.wait(30)
        on_done(ConnectionError("broker gone"))

    def abandon(self) -> None:
        if self.abandon_unblocks:
            self.release.set()


@pytest.mark.parametrize("abandon_unblocks", [True, False])
def test_close_releases_the_logs_only_once_the_shipper_thread_stopped(
    tmp_path: Path, abandon_unblocks: bool
) -> None:
    sink = StuckSink(abandon_unblocks=abandon_unblocks)
    spooled = spool(tmp_path, lambda: sink)
    spooled.send(b"run", b"event", Acks().callback(0))
    assert sink.sending.wait(5)
    spooled.close(0.2)
    if abandon_unblocks:  # the thread stopped: the directory is released, kept for later
        assert adoptable(tmp_path) == [spooled.directory]
    else:  # the thread is still in send: it may still touch the log, which stays open
        assert adoptable(tmp_path) == [] and spooled._log._active is not None
        sink.release.set()
        wait_for(lambda: adoptable(tmp_path) == [spooled.directory])
        assert spooled._log._active is None
    assert SegmentLog(spooled.directory, writable=False).pending()[0] == 1
