"""`Delivery`: the sending part of a `Session`. It owns the handover of logging calls
and the calls that wait on what was handed over: `flush`, `flush_token` and `close`.
`emit` queues events that are already built, for any run or experiment.

With TRACKLOG_SHIPPER=process, the disk spool on and no sink of the caller's own, calls
are handed over to the shipper process of the spool directory (`tracklog.shipper`): the
batcher is the session's ring. Otherwise (TRACKLOG_SHIPPER=thread, the default, no
spool, a given sink_factory, or a shipper process that cannot serve this session) the
bounded batcher, the sender thread and the sink (the Kafka producer, behind the disk
spool when that is on) run in this process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tracklog import inputs
from tracklog.contract import flush_tokens
from tracklog.contract.flush_tokens import FlushToken
from tracklog.contract.settings import KafkaSettings, SdkLimits, SpoolSettings
from tracklog.entities import Metric, Unsent
from tracklog.events import payloads as events
from tracklog.sending.batcher import ENVELOPE_ROOM_BYTES, Batcher, Handover, PendingEvent
from tracklog.sending.sender import Sender
from tracklog.sending.sink import EventSink, kafka_sink_factory
from tracklog.shipper import launch
from tracklog.shipper.client import ShippedSpool, ShipperClient
from tracklog.spool.spooling_sink import (
    SpoolingSink,
    open_spool,
    spool_producer_options,
    spool_target,
)

log = logging.getLogger(__name__)


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
        self._bootstrap = kafka.bootstrap_servers  # named when a flush times out
        self.metric_keys = inputs.MetricKeys()  # metric keys validated so far
        self.closed = False
        if spool is None and sink_factory is None:  # a given sink is spooled only if asked
            spool = SpoolSettings.from_env()  # TRACKLOG_SPOOL_DIR / _MAX_BYTES / _ON_FULL
        factory = sink_factory or kafka_sink_factory(
            kafka,
            compression_type=compression_type,
            linger_ms=linger_ms,
            producer_options=spool_producer_options(producer_options)
            if spool is not None and spool.directory is not None
            else producer_options,  # shorter timeouts behind the spool
        )
        self._client: ShipperClient | None = None
        self._own_spool: SpoolingSink | None = None
        if (
            limits.shipper == "process"
            and sink_factory is None
            and spool is not None
            and spool.directory is not None
        ):
            config = launch.ShipperConfig(
                kafka, spool, compression_type, linger_ms, dict(producer_options or {})
            )
            self._client = _shipper_client(
                config,
                target=spool_target(kafka),
                sink_factory=factory,
                max_batch_points=max_batch_points,
                max_batch_bytes=min(max_batch_bytes, self.event_split_bytes),
                max_event_bytes=largest - ENVELOPE_ROOM_BYTES,
                max_block_seconds=max_block_seconds,
                linger_seconds=linger_seconds,
                ring_bytes=limits.shipper_ring_bytes,
            )
        self.batcher: Handover
        # the disk spool, None when off; .dropped / .pending() report on it
        self.spool: SpoolingSink | ShippedSpool | None = None
        if self._client is not None:
            self.batcher = self._client.handover
            self.spool = self._client.spool_view()
            return
        self._batcher = self.batcher = Batcher(
            max_batch_points=max_batch_points,
            max_batch_bytes=min(max_batch_bytes, self.event_split_bytes),
            max_event_bytes=largest - ENVELOPE_ROOM_BYTES,
            max_buffered_points=max_buffered_points,
            max_buffered_events=max_buffered_events,
            max_block_seconds=max_block_seconds,
        )
        self._own_spool = open_spool(spool, factory, spool_target(kafka)) if spool else None
        self.spool = self._own_spool
        if self._own_spool is not None:
            factory = self._own_spool.as_factory()
        self._sender = Sender(self._batcher, factory, linger_seconds=linger_seconds)

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
        if self._client is not None:
            return self._client.token(self._client.wait_acked(timeout))
        if self.closed:
            unsent = self.unsent()
            ok = unsent.events == 0 and unsent.points == 0
        else:
            ok = self._sender.wait_acked(self._batcher.mark(), timeout)
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
            if self._client is not None:  # what it hands over is on disk: the shipper's
                self._client.close(timeout)
                return Unsent(0, 0)
            deadline = time.monotonic() + timeout
            self._batcher.close()
            self._sender.stop(max(0.0, deadline - time.monotonic()))
            if self._own_spool is not None:  # closed by the sender if it sent anything
                self._own_spool.close(max(0.0, deadline - time.monotonic()))
        return self.unsent()

    def unsent(self) -> Unsent:
        """What was queued and is neither acknowledged by Kafka nor kept in the spool."""
        if self._client is not None:  # handed over: on disk, the shipper's to send
            return Unsent(0, 0)
        events_left, points_left = self._batcher.pending()
        if self._own_spool is not None:  # what reached the spool is on disk (it warns)
            return Unsent(events_left, points_left)
        unacked_events, unacked_points = self._sender.unacked()
        return Unsent(events_left + unacked_events, points_left + unacked_points)


def _shipper_client(config: launch.ShipperConfig, **options: Any) -> ShipperClient | None:
    """A link to the spool directory's shipper process, or None (logged) when this
    session must send in-process: settings that cannot travel to it, a shipper already
    serving the directory with other settings, or a ring that cannot be made."""
    directory = config.spool.directory
    try:
        fingerprint = config.fingerprint()
    except TypeError as error:
        log.warning(
            "tracklog: sending in-process: the producer options cannot go to a "
            "shipper process (%s)",
            error,
        )
        return None
    assert directory is not None
    running = launch.running_fingerprint(directory) if launch.running(directory) else None
    if running not in (None, fingerprint):
        log.warning(
            "tracklog: sending in-process: the shipper process of %s serves other Kafka or "
            "spool settings (set TRACKLOG_SPOOL_DIR to a directory of its own)",
            directory,
        )
        return None
    try:
        return ShipperClient(config, **options)
    except OSError as error:
        log.warning("tracklog: sending in-process: cannot hand over to a shipper (%s)", error)
        return None
