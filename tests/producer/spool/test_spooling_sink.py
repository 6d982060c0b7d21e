"""The spooling sink with in-memory stand-ins for Kafka: acks, resends, bounds, adoption."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tracklog.contract.settings import SpoolSettings
from tracklog.sending.sink import DoneCallback, EventSink
from tracklog.spool.segments import SegmentLog
from tracklog.spool.spooling_sink import SpoolFullError, SpoolingSink

TARGET = "broker:9092 topic"


class HeldSink:
    """Keeps every send; acknowledges (or fails) them when told."""

    def __init__(self, log: list[bytes] | None = None, fail: bool = False) -> None:
        self.log = log if log is not None else []
        self.fail = fail
        self.waiting: list[DoneCallback] = []
        self.lock = threading.Lock()
        self.closed = False

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        with self.lock:
            if self.fail:
                on_done(ConnectionError("broker gone"))
                return
            self.log.append(value)
            self.waiting.append(on_done)

    def ack_all(self) -> None:
        with self.lock:
            waiting, self.waiting = self.waiting, []
        for on_done in waiting:
            on_done(None)

    def close(self, timeout: float) -> None:
        self.closed = True


class AckingSink(HeldSink):
    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        super().send(key, value, on_done)
        self.ack_all()


def spool(root: Path, factory: Callable[[], EventSink], **options: object) -> SpoolingSink:
    settings = SpoolSettings(directory=root, **options)  # type: ignore[arg-type]
    return SpoolingSink(settings, factory, TARGET)


class Acks:
    def __init__(self) -> None:
        self.results: list[tuple[int, BaseException | None]] = []
        self.lock = threading.Lock()

    def callback(self, i: int) -> DoneCallback:
        def done(error: BaseException | None) -> None:
            with self.lock:
                self.results.append((i, error))

        return done

    def ok(self) -> list[int]:
        with self.lock:
            return sorted(i for i, error in self.results if error is None)


def wait_for(probe: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_on_done_waits_for_the_brokers_ack_and_a_clean_close_leaves_nothing(
    tmp_path: Path,
) -> None:
    sink, acks = HeldSink(), Acks()
    spooled = spool(tmp_path, lambda: sink)
    for i in range(5):
        spooled.send_weighed(b"run", f"event {i}".encode(), 10, acks.callback(i))
    wait_for(lambda: len(sink.log) == 5)
    assert acks.ok() == [] and spooled.pending() == (5, 50)
    sink.ack_all()
    assert acks.ok() == [0, 1, 2, 3, 4] and spooled.pending() == (0, 0)
    spooled.close(5)
    assert sink.closed and list(tmp_path.iterdir()) == []


def test_a_failed_send_is_resent_in_order_through_a_fresh_producer(tmp_path: Path) -> None:
    delivered: list[bytes] = []
    sinks = [HeldSink(delivered, fail=True), AckingSink(delivered)]
    made: list[HeldSink] = []

    def factory() -> EventSink:
        made.append(sinks[min(len(made), 1)])
        return made[-1]

    acks = Acks()
    spooled = spool(tmp_path, factory)
    for i in range(20):
        spooled.send(b"run", f"event {i}".encode(), acks.callback(i))
    wait_for(lambda: acks.ok() == list(range(20)))
    assert delivered == [f"event {i}".encode() for i in range(20)]
    assert len(made) == 2 and made[0].closed
    assert len(acks.results) == 20  # each acknowledged exactly once, never failed
    spooled.close(5)


def test_when_full_the_drop_policy_drops_counts_and_reports(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink, acks = HeldSink(), Acks()
    spooled = spool(tmp_path, lambda: sink, max_bytes=1000, on_full="drop")
    with caplog.at_level(logging.WARNING):
        for i in range(10):
            spooled.send_weighed(b"run", b"x" * 180, 7, acks.callback(i))
        dropped = [i for i, error in acks.results if isinstance(error, SpoolFullError)]
        assert dropped == [5, 6, 7, 8, 9]  # 5 records of 200 bytes fill 1000 bytes
        assert spooled.dropped == (5, 35)
        assert "dropped so far" in caplog.text
        spooled.close(0.2)
    assert "5 events (35 metric points) were dropped" in caplog.text
    assert "5 events (35 metric points) are pending in the spool" in caplog.text


def test_when_full_the_block_policy_waits_for_room_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink, acks = HeldSink(), Acks()
    spooled = spool(tmp_path, lambda: sink, max_bytes=1000)
    for i in range(5):
        spooled.send(b"run", b"x" * 180, acks.callback(i))
    blocked = threading.Thread(target=spooled.send, args=(b"run", b"y" * 180, acks.callback(5)))
    with caplog.at_level(logging.WARNING, logger="tracklog.spool.spooling_sink"):
        blocked.start()
        blocked.join(1.2)
        assert blocked.is_alive()  # waiting for room
        spool_records = [r for r in caplog.records if r.name == "tracklog.spool.spooling_sink"]
        assert [r.getMessage().split(" (")[0] for r in spool_records] == [
            "tracklog spool: full"  # at once, and once only
        ]
        wait_for(lambda: len(sink.log) == 5)
        sink.ack_all()
        blocked.join(5)
        assert not blocked.is_alive()
        assert "room again after" in caplog.records[-1].getMessage()
    wait_for(lambda: len(sink.log) == 6)
    sink.ack_all()
    assert acks.ok() == list(range(6))
    spooled.close(5)


def test_the_next_process_sends_what_an_exited_one_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = spool(tmp_path, HeldSink)  # the broker never acknowledges
    for i in range(30):
        first.send_weighed(b"run", f"old {i}".encode(), 2, Acks().callback(i))
    with caplog.at_level(logging.WARNING):
        first.close(0.2)
    assert "30 events (60 metric points) are pending in the spool" in caplog.text
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1

    other_target = SpoolingSink(SpoolSettings(tmp_path), HeldSink, "elsewhere:9092 topic")
    assert other_target.pending() == (0, 0)  # records for another broker are left alone
    other_target.close(1)

    delivered: list[bytes] = []
    second = spool(tmp_path, lambda: AckingSink(delivered))
    acks = Acks()
    second.send(b"run", b"new", acks.callback(0))
    wait_for(lambda: len(delivered) == 31)
    assert delivered[:30] == [f"old {i}".encode() for i in range(30)]
    assert delivered[30] == b"new" and acks.ok() == [0]
    second.close(5)
    assert list(tmp_path.iterdir()) == []


def test_a_live_process_directory_is_not_adopted(tmp_path: Path) -> None:
    live = spool(tmp_path, HeldSink)
    live.send(b"run", b"mine", Acks().callback(0))
    delivered: list[bytes] = []
    other = spool(tmp_path, lambda: AckingSink(delivered))
    acks = Acks()
    other.send(b"run", b"theirs", acks.callback(0))
    # adopted backlogs are sent before a process's own events: once its own event is
    # acknowledged, an adopted "mine" would already have been delivered
    wait_for(lambda: acks.ok() == [0])
    assert delivered == [b"theirs"] and other.pending() == (0, 0)
    other.close(1)
    live.close(0.1)


def test_the_acknowledged_prefix_is_saved_while_running_for_a_process_that_is_killed(
    tmp_path: Path,
) -> None:
    sink = HeldSink()
    spooled = spool(tmp_path, lambda: sink)
    for i in range(10):
        if i == 5:
            wait_for(lambda: len(sink.log) == 5)
            sink.ack_all()
        spooled.send_weighed(b"run", f"event {i}".encode(), 1, Acks().callback(i))

    def survivor_sees_the_prefix() -> bool:  # the shipper saves the prefix every second
        survivor = SegmentLog(spooled.directory, writable=False)  # what the next process reads
        try:
            return survivor.pending()[:2] == (5, 5)
        finally:
            survivor.close()

    wait_for(survivor_sees_the_prefix)
    survivor = SegmentLog(spooled.directory, writable=False)
    assert survivor.pending()[:2] == (5, 5)
    record = survivor.read(survivor.acked)
    assert record is not None and record.value == b"event 5"
    spooled.close(0.1)
