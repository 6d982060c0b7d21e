"""The SDK's disk spool: every event goes to disk first, then to Kafka.

`SpoolingSink` is an `EventSink` that appends each encoded event to a
write-ahead log on disk (`tracklog.spool.segments`) and returns at once, so a
logging call never waits on the broker; a shipper thread
(`tracklog.spool.shipper`) sends the records in order and calls an event's
``on_done(None)`` only once Kafka acknowledged it, so `flush()` and flush tokens
keep meaning "acknowledged by Kafka". When the broker is away, events stay on
disk and are re-sent when it returns.

The spool directory may be shared by several processes (`tracklog.spool.dirs`):
each writes in its own locked subdirectory and, at start, adopts and sends what
exited processes left. At close, what Kafka has not acknowledged stays on disk
and a WARNING says how much; the next process using the directory sends it.

A record Kafka refuses for good (too large, invalid) is moved to
``<directory>/quarantine/`` (`tracklog.spool.quarantine`), logged at ERROR,
counted in `quarantined` and reported at close; the records after it are sent.

The spool holds at most ``max_bytes`` of this process's own unacknowledged events
(adopted backlogs do not count: processes sharing a directory may hold more in
it). When it is full, ``on_full="block"`` makes `send` wait for room (logged at
WARNING when the wait starts and when room is back; the in-memory buffer then
fills and logging calls wait up to ``TRACKLOG_SDK_MAX_BLOCK_SECONDS``, then raise
`BufferFullError`); ``on_full="drop"`` drops the event, counts it, logs it at
ERROR with the running totals and reports the totals at close (`dropped`).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tracklog.contract.settings import KafkaSettings, SpoolSettings
from tracklog.sending.sink import DoneCallback, EventSink
from tracklog.spool.dirs import adopt_orphans, create_own
from tracklog.spool.quarantine import Quarantine
from tracklog.spool.segments import SEGMENT_BYTES, SegmentLog, record_size
from tracklog.spool.shipper import Shipper
from tracklog.spool.sources import Source

log = logging.getLogger(__name__)


# The shipper's producer gives up sooner than kafka-python's defaults (30 s to bootstrap,
# 60 s blocked on metadata, 120 s per delivery): the spool keeps the events and re-sends
# them, so a short timeout only means noticing an outage (and closing) sooner.
SHIPPER_PRODUCER_OPTIONS: dict[str, Any] = {
    "bootstrap_timeout_ms": 5_000,
    "max_block_ms": 5_000,
    "request_timeout_ms": 10_000,
    "delivery_timeout_ms": 30_000,
    "reconnect_backoff_max_ms": 1_000,
    # no batch in flight behind a failing one: it could be acknowledged, then re-sent
    "max_in_flight_requests_per_connection": 1,
}


def spool_producer_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The shipper's producer options, with the caller's on top."""
    return {**SHIPPER_PRODUCER_OPTIONS, **(options or {})}


def spool_target(kafka: KafkaSettings) -> str:
    """What a spool directory's records are for: the brokers and the events topic."""
    return f"{kafka.bootstrap_servers} {kafka.events_topic}"


def open_spool(
    settings: SpoolSettings, sink_factory: Callable[[], EventSink], target: str
) -> SpoolingSink | None:
    """The spool in front of ``sink_factory``'s sinks; None when it is off, or (logged at
    ERROR) when its directory cannot be used: events then go straight to Kafka."""
    if settings.directory is None:
        return None
    try:
        return SpoolingSink(settings, sink_factory, target)
    except OSError as error:
        log.error(
            "tracklog: cannot use the spool directory %s (%s); events go straight to Kafka "
            "and are lost if it stays unreachable (set TRACKLOG_SPOOL_DIR)",
            settings.directory,
            error,
        )
        return None


class SpoolFullError(RuntimeError):
    """The spool was full and its policy is to drop: this event was not kept."""


class SpoolingSink:
    def __init__(
        self, settings: SpoolSettings, sink_factory: Callable[[], EventSink], target: str
    ) -> None:
        """``target`` names where the records go (brokers and topic): only a process with the
        same target adopts what this one leaves."""
        if settings.directory is None:
            raise ValueError("the spool is off (TRACKLOG_SPOOL_DIR=off)")
        self.max_bytes = settings.max_bytes
        self.on_full = settings.on_full
        self.dropped_events = self.dropped_points = 0
        self._closed = False
        root = settings.directory
        own = create_own(root, target)
        self.directory = own.path
        segment_bytes = max(64 * 1024, min(SEGMENT_BYTES, settings.max_bytes // 8))
        self._log = SegmentLog(own.path, writable=True, segment_bytes=segment_bytes)
        self._own = Source(self._log, own, callbacks=deque())
        sources = []
        for claim in adopt_orphans(root, own.path, target):
            try:  # lists the segments; the shipper thread reads and counts them
                adopted = SegmentLog(claim.path, writable=False)
            except OSError as error:
                log.error("tracklog spool: cannot read %s (%s); skipped", claim.path, error)
                claim.release(remove=False)
                continue
            sources.append(Source(adopted, claim, counted=False))
        self._shipper = Shipper(
            [*sources, self._own],
            sink_factory,
            Quarantine(root, target),
            max_age_days=settings.max_age_days,
        )
        self._last_drop_log = 0.0
        self._full_since: float | None = None  # when a send started waiting for room

    def as_factory(self) -> Callable[[], EventSink]:
        """A sink factory (for the `Sender`) that returns this sink."""
        return lambda: self

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        self.send_weighed(key, value, 0, on_done)

    def send_weighed(self, key: bytes, value: bytes, points: int, on_done: DoneCallback) -> None:
        """`send` for an event carrying ``points`` metric points (for the pending counts)."""
        size = record_size(key, value)
        own, lock = self._own, self._shipper.lock
        assert own.callbacks is not None
        with lock:
            if self._closed:
                raise RuntimeError("the Tracklog spool is closed")
            while own.size > 0 and own.size + size > self.max_bytes:
                if self._closed:
                    raise RuntimeError("the Tracklog spool is closed")
                if self.on_full == "drop":
                    self._drop(points, on_done)
                    return
                if self._full_since is None:
                    self._full_since = time.monotonic()
                    log.warning(
                        "tracklog spool: full (%d bytes unacknowledged at %s, "
                        "TRACKLOG_SPOOL_MAX_BYTES=%d): logging waits until Kafka acknowledges "
                        "(then raises BufferFullError after TRACKLOG_SDK_MAX_BLOCK_SECONDS)",
                        own.size,
                        self.directory,
                        self.max_bytes,
                    )
                lock.wait(0.5)
            if self._full_since is not None:
                log.warning(
                    "tracklog spool: room again after %.1fs",
                    time.monotonic() - self._full_since,
                )
                self._full_since = None
            own.records, own.points, own.size = (
                own.records + 1,
                own.points + points,
                own.size + size,
            )
            own.callbacks.append((on_done, points))  # before the shipper can read the record
        try:
            self._log.append(key, value, points)
        except OSError as error:
            with lock:
                own.callbacks.pop()
                own.records, own.points = own.records - 1, own.points - points
                own.size -= size
            if self.on_full != "drop":
                raise
            log.error("tracklog spool: cannot write to %s: %s", self.directory, error)
            self._drop(points, on_done)
            return
        with lock:
            self._shipper.appended()

    def _drop(self, points: int, on_done: DoneCallback) -> None:
        self.dropped_events += 1
        self.dropped_points += points
        now = time.monotonic()
        if now - self._last_drop_log >= 10.0 or self.dropped_events == 1:
            self._last_drop_log = now
            log.error(
                "tracklog spool: full (%d bytes unacknowledged at %s, TRACKLOG_SPOOL_MAX_BYTES="
                "%d, TRACKLOG_SPOOL_ON_FULL=drop): dropped an event of %d metric points; "
                "%d events (%d metric points) dropped so far",
                self._own.size,
                self.directory,
                self.max_bytes,
                points,
                self.dropped_events,
                self.dropped_points,
            )
        on_done(SpoolFullError(f"the spool at {self.directory} is full; the event was dropped"))

    @property
    def quarantined(self) -> tuple[int, int]:
        """(events, metric points) this process moved to the quarantine: Kafka refused them
        for good; they are kept in `quarantine_directory` (`tracklog spool list`)."""
        quarantine = self._shipper.quarantine
        with self._shipper.lock:
            return quarantine.events, quarantine.points

    @property
    def quarantine_directory(self) -> Path:
        return self._shipper.quarantine.directory

    @property
    def dropped(self) -> tuple[int, int]:
        """(events, metric points) dropped because the spool was full."""
        return self.dropped_events, self.dropped_points

    def pending(self) -> tuple[int, int]:
        """(events, metric points) spooled and not yet acknowledged by Kafka."""
        with self._shipper.lock:
            sources = self._shipper.sources
            return sum(s.records for s in sources), sum(s.points for s in sources)

    def adopted_pending(self) -> bool:
        """Directories adopted from exited processes still hold unacknowledged events."""
        with self._shipper.lock:
            return any(source is not self._own for source in self._shipper.sources)

    def acked_positions(self) -> dict[tuple[str, int], int]:
        return self._shipper.positions()

    def _release(self) -> None:
        """Close the logs and give their directories up (once the shipper thread ended)."""
        for source in self._shipper.sources:
            try:
                if source.counted and source.records == 0:
                    source.log.remove()
                    source.claim.release(remove=True)
                else:
                    source.log.close()
                    source.claim.release(remove=False)
            except OSError as error:
                log.error("tracklog spool: cannot close %s: %s", source.claim.path, error)
                source.claim.release(remove=False)

    def close(self, timeout: float) -> None:
        """Wait up to ``timeout`` for Kafka to acknowledge everything, then stop; what is
        not acknowledged stays on disk for the next process."""
        deadline = time.monotonic() + timeout
        with self._shipper.lock:
            if self._closed:
                return
            self._closed = True
            while not self._shipper.idle() and time.monotonic() < deadline:
                self._shipper.lock.wait(min(0.5, max(0.0, deadline - time.monotonic())))
        stopped = self._shipper.stop(max(0.0, deadline - time.monotonic()), self._release)
        events, points = self.pending()
        if not stopped:
            log.warning(
                "tracklog spool: the shipper thread is still busy after the close timeout; "
                "it releases the spool at %s when it ends",
                self.directory,
            )
        if events:
            log.warning(
                "tracklog: %d events (%d metric points) are pending in the spool at %s; the "
                "next Tracklog process using this spool directory sends them",
                events,
                points,
                self.directory.parent,
            )
        report_losses(
            self.quarantined,
            self.quarantine_directory,
            (self.dropped_events, self.dropped_points),
            self.directory.parent,
            self.max_bytes,
        )


def report_losses(
    quarantined: tuple[int, int],
    quarantine_directory: Path,
    dropped: tuple[int, int],
    spool_directory: Path,
    max_bytes: int,
) -> None:
    """Log at ERROR what a spool quarantined and dropped, each (events, metric points): said at
    close by the spool in-process, or by a session whose shipper process spooled for it."""
    if quarantined[0]:
        log.error(
            "tracklog: %d events (%d metric points) were refused by Kafka for good or "
            "were older than TRACKLOG_SPOOL_MAX_AGE_DAYS, and are kept in %s; `tracklog "
            "spool list` shows why, `tracklog spool resend` sends them again after a fix",
            *quarantined,
            quarantine_directory,
        )
    if dropped[0]:
        log.error(
            "tracklog: %d events (%d metric points) were dropped because the spool at %s "
            "was full (TRACKLOG_SPOOL_MAX_BYTES=%d)",
            *dropped,
            spool_directory,
            max_bytes,
        )
