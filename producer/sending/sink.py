"""Where encoded events go: the Kafka producer, behind a small interface.

`EventSink` is the seam for the disk spool of a later issue: a spooling sink can
wrap `KafkaSink`, write to disk what the broker cannot take, and re-send it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from kafka import KafkaProducer

from tracklog.contract.settings import KafkaSettings
from tracklog.contract.topics import log_name

DoneCallback = Callable[[BaseException | None], None]


class EventSink(Protocol):
    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        """Hand one message over; ``on_done(None)`` once acknowledged, else with the error.

        May block while the sink's own buffer is full; raises when it cannot accept
        the message (the sender then retries it).
        """

    def close(self, timeout: float) -> None: ...


@runtime_checkable
class WeighsEvents(Protocol):
    def send_weighed(self, key: bytes, value: bytes, points: int, on_done: DoneCallback) -> None:
        """`send` for an event carrying ``points`` metric points (the spool counts them)."""


@runtime_checkable
class ReportsPositions(Protocol):
    def acked_positions(self) -> dict[tuple[str, int], int]:
        """Per (log name, partition): the highest offset acknowledged so far."""


class KafkaSink:
    """kafka-python's KafkaProducer: acks from all replicas, idempotent, compressed."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        compression_type: str | None = "zstd",
        linger_ms: int = 5,
        producer_options: Mapping[str, Any] | None = None,
    ) -> None:
        options: dict[str, Any] = {
            **kafka.client_options(),
            "client_id": "tracklog-sdk",
            "acks": "all",
            "enable_idempotence": True,
            "compression_type": compression_type,
            "linger_ms": linger_ms,
            "batch_size": 256 * 1024,
            "max_request_size": kafka.max_event_bytes,
            **(producer_options or {}),
        }
        self._topic = kafka.events_topic
        self._producer = KafkaProducer(**options)
        # kafka-python closes every producer in an atexit hook of its own, registered when
        # the producer is made, so it runs before the session's (atexit is last in, first
        # out): the session's exit flush would find its producer closed. The session
        # closes it, in order, after the last acknowledgement (Session.close).
        unregister = getattr(self._producer, "_unregister_cleanup", None)
        if callable(unregister):
            unregister()
        self._acked: dict[int, int] = {}  # partition -> highest acknowledged offset
        self._acked_lock = threading.Lock()

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        def acknowledged(metadata: Any) -> None:
            with self._acked_lock:  # recorded before on_done: a flush then sees it
                if metadata.offset > self._acked.get(metadata.partition, -1):
                    self._acked[metadata.partition] = metadata.offset
            on_done(None)

        future = self._producer.send(self._topic, key=key, value=value)
        future.add_callback(acknowledged)
        future.add_errback(on_done)

    def acked_positions(self) -> dict[tuple[str, int], int]:
        with self._acked_lock:
            acked = dict(self._acked)
        if not acked:
            return {}
        log = log_name(self._topic, self._producer._metadata.topic_id(self._topic))
        return {(log, partition): offset for partition, offset in acked.items()}

    def close(self, timeout: float) -> None:
        self._producer.close(timeout=timeout)

    def abandon(self) -> None:
        """Close at once without sending what is queued: every send not yet acknowledged
        fails. (kafka-python's ``close(timeout=0)`` first flushes and raises a timeout
        while anything is pending, and then does not close.)"""
        sender = self._producer._sender
        if sender is not None:
            sender.force_close()  # its thread aborts the incomplete batches as it exits
            sender.join(5.0)
        self._producer.close(timeout=0)


def kafka_sink_factory(
    kafka: KafkaSettings,
    *,
    compression_type: str | None = "zstd",
    linger_ms: int = 5,
    producer_options: Mapping[str, Any] | None = None,
) -> Callable[[], EventSink]:
    """A factory the sender calls on its own thread (creating a producer touches the network)."""

    def create() -> EventSink:
        return KafkaSink(
            kafka,
            compression_type=compression_type,
            linger_ms=linger_ms,
            producer_options=producer_options,
        )

    return create
