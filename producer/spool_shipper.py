"""The spool's shipper: a thread that reads spooled records in order and sends them
to Kafka with a bounded in-flight window, tracking what the broker acknowledged.

Records of directories adopted from earlier processes go first (each in its own
order), then this process's own. The acknowledged prefix of each log advances
only over contiguously acknowledged records; covered segments are deleted. On
any send error or timeout the shipper lets the in-flight sends settle (closing
the producer flushes them), creates a fresh producer (a restarted broker may have
forgotten the idempotent producer's id), backs off, and re-sends everything after
the acknowledged prefix. Records acknowledged beyond a gap are sent again: the
worker drops duplicates by event id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tracklog.sink import DoneCallback, EventSink, ReportsPositions
from tracklog.spool_dirs import ClaimedDirectory
from tracklog.spool_segments import SegmentLog, SpooledRecord

log = logging.getLogger(__name__)

WINDOW_RECORDS = 1000
WINDOW_BYTES = 16 * 1024 * 1024
MIN_BACKOFF, MAX_BACKOFF = 0.2, 5.0
SAVE_ACKED_SECONDS = 1.0


@dataclass(slots=True)
class _InFlight:
    record: SpooledRecord
    acked: bool = False


@dataclass(slots=True)
class Source:
    """One log being shipped, with what is still unacknowledged in it."""

    log: SegmentLog
    claim: ClaimedDirectory
    records: int = 0  # written and not acknowledged
    points: int = 0
    size: int = 0
    callbacks: deque[tuple[DoneCallback, int]] | None = None  # own log: (on_done, points)
    read_pos: tuple[int, int] = (0, 0)
    inflight: deque[_InFlight] = field(default_factory=deque)


class Shipper:
    def __init__(self, sources: list[Source], sink_factory: Callable[[], EventSink]) -> None:
        self.sources = sources  # adopted ones first; the last one is this process's own
        self._factory = sink_factory
        self.lock = threading.Condition()
        self._sink: EventSink | None = None
        self._generation = 0
        self._failure: BaseException | None = None
        self._inflight_records = self._inflight_bytes = 0
        self._appends = 0
        self._stopping = threading.Event()
        self._positions: dict[tuple[str, int], int] = {}  # from retired producers
        self._closed = False
        self._outage_since: float | None = None
        self._saved_at = time.monotonic()
        for source in sources:
            source.read_pos = source.log.acked
        self._thread = threading.Thread(target=self._run, name="tracklog-spool", daemon=True)
        self._thread.start()

    # called by the spooling sink

    def appended(self) -> None:
        """The own log grew: wake the thread (the caller holds ``lock``)."""
        self._appends += 1
        self.lock.notify_all()

    def idle(self) -> bool:
        """Everything written is acknowledged (the caller holds ``lock``)."""
        return all(source.records == 0 for source in self.sources)

    def positions(self) -> dict[tuple[str, int], int]:
        with self.lock:
            merged = dict(self._positions)
            sink = self._sink
        if isinstance(sink, ReportsPositions):
            for key, offset in sink.acked_positions().items():
                merged[key] = max(merged.get(key, -1), offset)
        return merged

    def stop(self, timeout: float) -> None:
        """Stop sending, let in-flight sends settle within ``timeout``, close the producer."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        with self.lock:
            self.lock.notify_all()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        self._closed = True  # a producer the thread creates after this is closed by the thread
        self._retire(max(0.1, deadline - time.monotonic()))

    # the thread

    def _run(self) -> None:
        backoff = MIN_BACKOFF
        while not self._stopping.is_set():
            try:
                if self._failure is not None:
                    self._report_failure(backoff)
                    self._retire(10.0)
                    self._stopping.wait(backoff)
                    backoff = min(2 * backoff, MAX_BACKOFF)
                elif self._sink is None:
                    self._sink = self._factory()
                elif self._ship_one():
                    backoff = MIN_BACKOFF
            except Exception as error:
                if self._stopping.is_set():
                    return
                with self.lock:
                    self._failure = self._failure or error
        if self._closed:
            self._retire(0.1)

    def _report_failure(self, backoff: float) -> None:
        message = (
            "tracklog spool: cannot send to Kafka (%s); events stay in the spool and are "
            "re-sent from the first unacknowledged one (next try in %.1fs)"
        )
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning(message, self._failure, backoff)
        else:
            log.debug(message, self._failure, backoff)

    def _ship_one(self) -> bool:
        self._prune()
        if time.monotonic() - self._saved_at >= SAVE_ACKED_SECONDS:  # fewer re-sends after a kill
            self._saved_at = time.monotonic()
            for source in self.sources:
                source.log.save_acked()
        with self.lock:
            while self._window_full() and self._failure is None and not self._stopping.is_set():
                self.lock.wait(0.5)
            if self._failure is not None or self._stopping.is_set():
                return False
            seen, generation = self._appends, self._generation
        for source in self.sources:
            record = source.log.read(source.read_pos)
            if record is not None:
                break
        else:
            with self.lock:
                if self._appends == seen and not self._stopping.is_set():
                    self.lock.wait(0.2)
            return False
        entry = _InFlight(record)
        with self.lock:
            source.inflight.append(entry)
            source.read_pos = record.end
            self._inflight_records += 1
            self._inflight_bytes += record.size
        sink = self._sink
        assert sink is not None
        sink.send(
            record.key, record.value, lambda error: self._done(source, entry, generation, error)
        )
        return True

    def _prune(self) -> None:
        """Delete adopted directories whose every record was acknowledged."""
        for source in list(self.sources):
            if source.callbacks is None and source.records == 0 and not source.inflight:
                with self.lock:
                    self.sources.remove(source)
                source.log.remove()
                source.claim.release(remove=True)
                log.info("tracklog spool: sent everything left in %s", source.claim.path)

    def _window_full(self) -> bool:
        return self._inflight_records >= WINDOW_RECORDS or (
            self._inflight_records > 0 and self._inflight_bytes >= WINDOW_BYTES
        )

    def _done(
        self, source: Source, entry: _InFlight, generation: int, error: BaseException | None
    ) -> None:
        acknowledged: list[tuple[DoneCallback, int]] = []
        with self.lock:
            if generation != self._generation:
                return  # a send of a retired producer: its record is re-sent
            if error is not None:
                self._failure = self._failure or error
                self.lock.notify_all()
                return
            entry.acked = True
            freed = False
            while source.inflight and source.inflight[0].acked:
                record = source.inflight.popleft().record
                self._inflight_records -= 1
                self._inflight_bytes -= record.size
                source.records -= 1
                source.points -= record.points
                source.size -= record.size
                source.log.release_through(record.end)
                freed = True
                if source.callbacks is not None:
                    acknowledged.append(source.callbacks.popleft())
            if freed:
                if self._outage_since is not None:
                    log.warning(
                        "tracklog spool: Kafka acknowledges again after %.0fs; sending the spool",
                        time.monotonic() - self._outage_since,
                    )
                    self._outage_since = None
                self.lock.notify_all()  # wakes a send waiting for room, and close
        for on_done, _ in acknowledged:
            on_done(None)

    def _retire(self, timeout: float) -> None:
        """Close the producer (its in-flight sends settle or fail), then re-read from the
        acknowledged prefix with a fresh one."""
        with self.lock:
            sink, self._sink = self._sink, None
        if sink is not None:
            try:
                sink.close(timeout)
            except Exception as error:
                # harmless: what that producer did not get acknowledged stays in the spool
                log.info("tracklog spool: closing the Kafka producer failed: %s", error)
            if isinstance(sink, ReportsPositions):  # after close: acks of the flush count
                try:
                    acked = sink.acked_positions()
                except Exception as error:  # no metadata: nothing was acknowledged
                    log.debug("tracklog spool: no positions from the old producer: %s", error)
                    acked = {}
                with self.lock:
                    for key, offset in acked.items():
                        self._positions[key] = max(self._positions.get(key, -1), offset)
        with self.lock:
            self._generation += 1
            self._failure = None
            self._inflight_records = self._inflight_bytes = 0
            for source in self.sources:
                source.inflight.clear()
                source.read_pos = source.log.acked
            self.lock.notify_all()
