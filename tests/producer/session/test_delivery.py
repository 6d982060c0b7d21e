"""`Delivery`, the sending part of a Session: emit, flush, flush_token and close."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.producer.fakes import RecordingSink, SilentSink
from tracklog.contract.settings import KafkaSettings
from tracklog.entities import Metric, Unsent
from tracklog.events import lifecycle
from tracklog.sending.sink import EventSink
from tracklog.session.delivery import Delivery


def delivery(sink_factory: Callable[[], EventSink]) -> Delivery:
    return Delivery(
        KafkaSettings(bootstrap_servers="kafka.test:9092"),
        max_batch_points=10_000,
        max_batch_bytes=512 * 1024,
        max_buffered_points=None,
        max_buffered_events=100_000,
        max_block_seconds=None,
        linger_seconds=0.01,
        compression_type=None,
        linger_ms=0,
        producer_options=None,
        sink_factory=sink_factory,
        spool=None,
    )


def test_emitted_events_and_points_are_sent_in_order_then_close_leaves_nothing() -> None:
    sink = RecordingSink()
    sending = delivery(lambda: sink)
    sending.emit("run-1", [lifecycle.run_tag_deleted("t")], [Metric("m", 1.0, 0, 0)])
    assert sending.flush(5)
    assert [key for key, _ in sink.messages] == ["run-1", "run-1"]
    assert sink.payloads() == ["run_tag_deleted", "metrics_logged"]
    assert sending.close(5) == Unsent(0, 0)
    assert sink.closed and sending.closed


def test_a_closed_delivery_refuses_events_and_its_flush_counts_what_is_unsent() -> None:
    sending = delivery(RecordingSink)
    assert sending.close(5) == Unsent(0, 0)
    assert sending.close(5) == Unsent(0, 0)  # a second close only reports
    assert sending.flush(0)  # nothing was left unsent
    with pytest.raises(RuntimeError, match="closed"):
        sending.emit("run-1", [lifecycle.run_tag_deleted("t")])


def test_what_was_never_acknowledged_is_unsent_and_flush_says_so() -> None:
    sending = delivery(SilentSink)
    sending.emit("run-1", [lifecycle.run_tag_deleted("t")], [Metric("m", 1.0, 0, 0)])
    with pytest.raises(TimeoutError, match=r"kafka\.test:9092"):
        sending.flush_token(0.2)
    assert sending.close(0.2) == Unsent(1, 1)
    assert not sending.flush(0)
