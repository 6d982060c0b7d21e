"""`Delivery`: the sending part of a `Session`. It owns the bounded batcher, the sender
thread, the sink (the Kafka producer, behind the disk spool when that is on), and the
calls that wait on them: `flush`, `flush_token` and `close`. `emit` queues events that
are already built, for any run or experiment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tracklog import inputs
from tracklog.contract import flush_tokens
from tracklog.contract.flush_tokens import FlushToken
from tracklog.contract.settings import KafkaSettings, SdkLimits, SpoolSettings
from tracklog.entities import Metric, Unsent
from tracklog.events import payloads as events
from tracklog.sending.batcher import ENVELOPE_ROOM_BYTES, Batcher, PendingEvent
from tracklog.sending.sender import Sender
from tracklog.sending.sink import EventSink, kafka_sink_factory
from tracklog.spool.spooling_sink import open_spool, spool_producer_options, spool_target


class Delivery:
    """Everything a session queued, on its way to Kafka (`Session`'s keyword options)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        max_batch_points: int,
        max_batch_bytes: int,
        max_buffered_points: int | None,
        max_buffered_events: int,
        max_block_seconds: float | None,
        linger_seconds: float,
        compression_type: str | None,
        linger_ms: int,
        producer_options: Mapping[str, Any] | None,
        sink_factory: Callable[[], EventSink] | None,
        spool: SpoolSettings | None,
    ) -> None:
        limits = SdkLimits.from_env()  # TRACKLOG_SDK_MAX_BUFFERED_POINTS / _MAX_BLOCK_SECONDS
        if max_buffered_points is None:
            max_buffered_points = limits.max_buffered_points
        if max_block_seconds is None:
            max_block_seconds = limits.max_block_seconds
        # One event must fit the producer's max_request_size: calls are split into events
        # of at most half of it, and a single value that cannot fit is refused at the call.
        largest = int((producer_options or {}).get("max_request_size", kafka.max_event_bytes))
        self.event_split_bytes = largest // 2
        self.batcher = Batcher(
            max_batch_points=max_batch_points,
            max_batch_bytes=min(max_batch_bytes, self.event_split_bytes),
            max_event_bytes=largest - ENVELOPE_ROOM_BYTES,
            max_buffered_points=max_buffered_points,
            max_buffered_events=max_buffered_events,
            max_block_seconds=max_block_seconds,
        )
        if spool is None and sink_factory is None:  # a given sink is spooled only if asked
            spool = SpoolSettings.from_env()  # TRACKLOG_SPOOL_DIR / _MAX_BYTES / _ON_FULL
        if spool is not None and spool.directory is not None:
            producer_options = spool_producer_options(producer_options)  # shorter timeouts
        factory = sink_factory or kafka_sink_factory(
            kafka,
            compression_type=compression_type,
            linger_ms=linger_ms,
            producer_options=producer_options,
        )
        # the disk spool (tracklog.spool), None when off; .dropped / .pending() report on it
        self.spool = open_spool(spool, factory, spool_target(kafka)) if spool else None
        if self.spool is not None:
            factory = self.spool.as_factory()
        self._sender = Sender(self.batcher, factory, linger_seconds=linger_seconds)
        self._bootstrap = kafka.bootstrap_servers  # named when a flush times out
        self.metric_keys = inputs.MetricKeys()  # metric keys validated so far
        self.closed = False

    def emit(
        self, aggregate_id: str, payloads: Sequence[events.Payload], metrics: Sequence[Metric] = ()
    ) -> None:
        """Queue built events (then validated metric points) of any run or experiment."""
        points = inputs.metric_points(metrics, self.metric_keys) if metrics else None
        now = time.time_ns()
        pending = [PendingEvent(aggregate_id, p, now) for p in payloads]
        self.batcher.put(aggregate_id, pending, points)

    def flush(self, timeout: float | None = None) -> FlushToken:
        """Wait until everything queued so far is acknowledged; return the token naming what
        was written (for read-your-writes), falsy on timeout or a lost send."""
        if self.closed:
            unsent = self.unsent()
            ok = unsent.events == 0 and unsent.points == 0
        else:
            ok = self._sender.wait_acked(self.batcher.mark(), timeout)
        return FlushToken(flush_tokens.encode(self._sender.positions()), ok)

    def flush_token(self, timeout: float | None = None) -> str:
        """Flush, then name what was written: per (log, partition) the highest acknowledged
        offset (tracklog.contract.flush_tokens; the query service's WaitFor takes it). Raises
        TimeoutError when not everything was acknowledged in time or a send was lost."""
        token = self.flush(timeout)
        if not token:
            raise TimeoutError(
                f"not everything logged was acknowledged by Kafka at {self._bootstrap} within "
                f"{timeout}s; is it reachable (TRACKLOG_KAFKA_BOOTSTRAP)? Unsent events are "
                "kept and sent once it is"
            )
        return str(token)

    def close(self, timeout: float = 30.0) -> Unsent:
        """Stop taking events, let the sender drain the batcher (up to ``timeout`` in all,
        with the spool's shipper) and return what could not be sent."""
        if not self.closed:
            self.closed = True
            deadline = time.monotonic() + timeout
            self.batcher.close()
            self._sender.stop(max(0.0, deadline - time.monotonic()))
            if self.spool is not None:  # closed by the sender if it sent anything
                self.spool.close(max(0.0, deadline - time.monotonic()))
        return self.unsent()

    def unsent(self) -> Unsent:
        """What was queued and is neither acknowledged by Kafka nor kept in the spool."""
        events_left, points_left = self.batcher.pending()
        if self.spool is not None:  # what reached the spool is on disk (it warns about it)
            return Unsent(events_left, points_left)
        unacked_events, unacked_points = self._sender.unacked()
        return Unsent(events_left + unacked_events, points_left + unacked_points)
