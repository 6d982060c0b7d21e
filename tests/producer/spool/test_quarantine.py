"""Records Kafka refuses for good leave the spool for its quarantine and block nothing.

In-memory stand-ins for Kafka: one refuses a whole batch that holds a bad record (as a
broker answers for a partition's batch), one refuses a record before it joins a batch
(as kafka-python's size check does), one refuses everything for a reason that is not
the record's (authorization): those records stay in the spool.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from kafka import errors as kafka_errors

from tests.producer.spool.test_spooling_sink import Acks, spool, wait_for
from tracklog.sending.sink import DoneCallback
from tracklog.spool.quarantine import listing, mark_resent, read, refused_for_good

BAD = b"bad"


class BatchRefusingSink:
    """Groups sends into batches of up to ``batch`` records, or what came within a linger
    of 100 ms; a batch holding BAD fails as a whole with InvalidRecordError, any other is
    acknowledged."""

    def __init__(self, delivered: list[bytes], batch: int = 4) -> None:
        self.delivered = delivered
        self.batch = batch
        self.pending: list[tuple[bytes, DoneCallback]] = []
        self.lock = threading.Lock()
        self.batches: list[list[bytes]] = []

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        with self.lock:
            self.pending.append((value, on_done))
            if len(self.pending) == 1:
                threading.Timer(0.1, self.complete).start()
            if len(self.pending) < self.batch:
                return
        self.complete()

    def complete(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
        if not batch:
            return
        self.batches.append([v for v, _ in batch])
        refused = any(v == BAD for v, _ in batch)
        for value, on_done in batch:
            if refused:
                on_done(kafka_errors.InvalidRecordError("the broker refuses the batch"))
            else:
                self.delivered.append(value)
                on_done(None)

    def close(self, timeout: float) -> None:
        self.complete()


class SizeCheckingSink:
    """Raises MessageSizeTooLargeError from send for values over ``limit`` bytes."""

    def __init__(self, delivered: list[bytes], limit: int) -> None:
        self.delivered, self.limit = delivered, limit

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        if len(value) > self.limit:
            raise kafka_errors.MessageSizeTooLargeError(f"the message is {len(value)} bytes")
        self.delivered.append(value)
        on_done(None)

    def close(self, timeout: float) -> None:
        pass


class UnauthorizedSink:
    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        on_done(kafka_errors.TopicAuthorizationFailedError("not allowed"))

    def close(self, timeout: float) -> None:
        pass


def test_a_record_refused_inside_a_batch_is_found_quarantined_and_the_rest_sent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    delivered: list[bytes] = []
    sinks: list[BatchRefusingSink] = []

    def factory() -> BatchRefusingSink:
        sinks.append(BatchRefusingSink(delivered))
        return sinks[-1]

    values = [b"e0", b"e1", BAD, b"e3", b"e4", b"e5", b"e6", b"e7"]
    acks = Acks()
    with caplog.at_level(logging.ERROR):
        spooled = spool(tmp_path, factory)
        for i, value in enumerate(values):
            spooled.send_weighed(b"run", value, 3 if value == BAD else 0, acks.callback(i))
        wait_for(lambda: len(acks.results) == len(values))
    assert acks.ok() == [0, 1, 3, 4, 5, 6, 7]
    (refused,) = [error for i, error in acks.results if i == 2]
    assert isinstance(refused, kafka_errors.InvalidRecordError)
    assert BAD not in delivered and set(delivered) == set(values) - {BAD}
    assert spooled.quarantined == (1, 3) and spooled.pending() == (0, 0)
    (kept,) = listing(tmp_path)
    assert (kept.key, kept.value, kept.points) == (b"run", BAD, 3)
    assert "InvalidRecordError" in kept.reason and kept.target == "broker:9092 topic"
    assert f"moved it out of the spool to {kept.path}" in caplog.text
    with caplog.at_level(logging.ERROR):
        spooled.close(5)
    assert "1 events (3 metric points) were refused by Kafka for good" in caplog.text
    assert [p.name for p in tmp_path.iterdir()] == ["quarantine"]  # the rest is gone
    assert read(kept.path) == kept


def test_after_the_refused_record_sending_goes_back_to_whole_batches(tmp_path: Path) -> None:
    delivered: list[bytes] = []
    sinks: list[BatchRefusingSink] = []

    def factory() -> BatchRefusingSink:
        sinks.append(BatchRefusingSink(delivered))
        return sinks[-1]

    acks = Acks()
    spooled = spool(tmp_path, factory)
    for i, value in enumerate([b"a", BAD, b"c", b"d"]):
        spooled.send_weighed(b"run", value, 0, acks.callback(i))
    wait_for(lambda: len(acks.results) == 4 and acks.ok() == [0, 2, 3])
    for i in range(4, 12):
        spooled.send(b"run", f"late {i}".encode(), acks.callback(i))
    wait_for(lambda: acks.ok() == [0, *range(2, 12)])
    late = [b for sink in sinks for b in sink.batches if b[0].startswith(b"late")]
    assert max(len(b) for b in late) > 1  # one at a time ended with the refused record
    spooled.close(5)


def test_a_record_the_producer_refuses_before_sending_is_quarantined_at_once(
    tmp_path: Path,
) -> None:
    delivered: list[bytes] = []
    acks = Acks()
    spooled = spool(tmp_path, lambda: SizeCheckingSink(delivered, limit=100))
    spooled.send(b"run", b"small 0", acks.callback(0))
    spooled.send(b"run", b"x" * 1000, acks.callback(1))
    spooled.send(b"run", b"small 2", acks.callback(2))
    wait_for(lambda: len(acks.results) == 3)
    assert acks.ok() == [0, 2] and delivered == [b"small 0", b"small 2"]
    (kept,) = listing(tmp_path)
    assert "MessageSizeTooLargeError" in kept.reason and len(kept.value) == 1000
    spooled.close(5)


def test_a_refusal_that_is_not_about_the_record_keeps_everything_in_the_spool(
    tmp_path: Path,
) -> None:
    acks = Acks()
    spooled = spool(tmp_path, UnauthorizedSink)
    for i in range(3):
        spooled.send(b"run", f"e{i}".encode(), acks.callback(i))
    assert not refused_for_good(kafka_errors.TopicAuthorizationFailedError())
    spooled.close(0.5)
    assert acks.results == [] and list(listing(tmp_path)) == []
    assert spooled.quarantined == (0, 0)


def test_a_backlog_left_with_a_refused_record_does_not_block_the_next_process(
    tmp_path: Path,
) -> None:
    """The issue's second process: it adopts a backlog whose first record Kafka refuses;
    the rest of the backlog and its own events are sent at once."""
    first = spool(tmp_path, UnauthorizedSink)  # a process that never got anything out
    first.send(b"run", b"y" * 1000, Acks().callback(0))
    first.send(b"run", b"old 1", Acks().callback(1))
    first.close(0.2)

    delivered: list[bytes] = []
    acks = Acks()
    second = spool(tmp_path, lambda: SizeCheckingSink(delivered, limit=100))
    second.send(b"run", b"new", acks.callback(0))
    wait_for(lambda: acks.ok() == [0])
    assert delivered == [b"old 1", b"new"]
    assert second.quarantined == (1, 0)
    second.close(5)


def test_a_resent_record_is_renamed_and_kept(tmp_path: Path) -> None:
    spooled = spool(tmp_path, lambda: SizeCheckingSink([], limit=1))
    spooled.send(b"run", b"too big", Acks().callback(0))
    wait_for(lambda: spooled.quarantined == (1, 0))
    spooled.close(5)
    (kept,) = listing(tmp_path)
    done = mark_resent(kept)
    assert list(listing(tmp_path)) == [] and done.exists()
    (again,) = listing(tmp_path, include_resent=True)
    assert again.resent and again.value == b"too big"
