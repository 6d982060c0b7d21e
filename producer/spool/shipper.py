"""The spool's shipper: a thread that reads spooled records in order and sends them
to Kafka with a bounded in-flight window, tracking what the broker acknowledged.

Records of directories adopted from earlier processes go first (each in its own
order), then this process's own; the thread first counts what the adopted ones
hold (reading a large backlog takes time, so it is not done on the caller's
thread). An adopted directory that cannot be read is skipped (logged at ERROR,
left on disk). The acknowledged prefix of each log advances only over
contiguously acknowledged records; covered segments are deleted. On any send
error or timeout the shipper abandons the producer without sending what it still
queues (flushing it could deliver a later batch before the failed one, and the
re-send would then put that batch before the failed one's records), creates a
fresh producer (a restarted broker may have forgotten the idempotent producer's
id), backs off, and re-sends everything after the acknowledged prefix. Records
acknowledged beyond a gap are sent again: the worker drops duplicates by event id.

A record Kafka refuses for good (too large, invalid: `spool_quarantine.refused_for_good`)
must not block the records behind it. One refused inside a batch of several cannot be
told apart from its neighbours, so the shipper re-sends from the acknowledged prefix
one record at a time until the refused one fails alone; that one moves to the
quarantine (logged at ERROR, its ``on_done`` gets the error) and sending goes on.

A record whose event happened longer ago than ``max_age_days`` (TRACKLOG_SPOOL_MAX_AGE_DAYS,
by the envelope's ``occurred_at``) is not sent: the worker may have forgotten its id (its
dedup horizon, 30 days by default), so a copy already applied would store its metric
points twice. It moves to the quarantine unsent (`spool_quarantine.TooOldToSend`, logged
with its age; ``on_done`` gets the error) once nothing of its log is in flight ahead of
it, and ``tracklog spool resend`` can still send it on purpose.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from tracklog.sending.sink import DoneCallback, EventSink, ReportsPositions
from tracklog.spool.producer import abandon, let_go
from tracklog.spool.quarantine import Quarantine, TooOldToSend, refused_for_good
from tracklog.spool.segments import Position, SpooledRecord
from tracklog.spool.sources import InFlight, Source, give_up_unreadable, occurred_at

log = logging.getLogger(__name__)

WINDOW_RECORDS = 1000
WINDOW_BYTES = 16 * 1024 * 1024
MIN_BACKOFF, MAX_BACKOFF = 0.2, 5.0
SAVE_ACKED_SECONDS = 1.0
STOP_GRACE_SECONDS = 2.0  # after abandoning the producer, for a thread still busy at stop
DAY_SECONDS = 86_400.0
# set on the outage's first warning (True) and on the one that ends it (False): a shipper
# process repeats the outage's warning to a session that attaches during it
OUTAGE_ATTRIBUTE = "tracklog_outage"


class Shipper:
    def __init__(
        self,
        sources: list[Source],
        sink_factory: Callable[[], EventSink],
        quarantine: Quarantine,
        *,
        max_age_days: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sources = sources  # adopted ones first; the last one is this process's own
        self._factory = sink_factory
        self.quarantine = quarantine
        self._max_age_days = max_age_days  # 0: any age is sent
        self._clock = clock
        # (source, position): one record in flight at a time until the acknowledged prefix
        # of that source reaches the position, to find which record Kafka refuses
        self._isolating: tuple[Source, Position] | None = None
        self.lock = threading.Condition()
        self._sink: EventSink | None = None
        self._generation = 0
        self._failure: BaseException | None = None
        self._inflight_records = self._inflight_bytes = 0
        self._appends = 0
        self._stopping = threading.Event()
        self._positions: dict[tuple[str, int], int] = {}  # from retired producers
        self._close_deadline = 0.0
        self._finished = False  # the thread ended: it touches no log any more
        self._cleanup: Callable[[], None] | None = None  # run by the thread if stop gave up
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
        return all(source.counted and source.records == 0 for source in self.sources)

    def positions(self) -> dict[tuple[str, int], int]:
        with self.lock:
            merged = dict(self._positions)
            sink = self._sink
        if isinstance(sink, ReportsPositions):
            for key, offset in sink.acked_positions().items():
                merged[key] = max(merged.get(key, -1), offset)
        return merged

    def stop(self, timeout: float, cleanup: Callable[[], None]) -> bool:
        """Stop sending and close the producer within ``timeout``, then run ``cleanup``
        (which closes the logs). True when done; False when the thread is still busy
        (e.g. blocked on an absent broker) even after its producer was abandoned: the
        thread then runs ``cleanup`` itself when it ends, never touching a log after it."""
        with self.lock:
            self._close_deadline = time.monotonic() + timeout
            self._stopping.set()
            self.lock.notify_all()
        self._thread.join(max(0.0, self._close_deadline - time.monotonic()))
        if self._thread.is_alive():
            with self.lock:
                sink = self._sink
            if sink is not None:  # unblocks a send or a close waiting on the broker
                abandon(sink)
            self._thread.join(STOP_GRACE_SECONDS)
        with self.lock:
            if not self._finished:
                self._cleanup = cleanup
                return False
        cleanup()
        return True

    # the thread

    def _run(self) -> None:
        try:
            self._count_adopted()
            self._loop()
        finally:
            self._retire(max(0.0, self._close_deadline - time.monotonic()))
            with self.lock:
                self._finished = True
                cleanup = self._cleanup
            if cleanup is not None:
                cleanup()

    def _loop(self) -> None:
        backoff = MIN_BACKOFF
        while not self._stopping.is_set():
            try:
                if self._failure is not None:
                    self._report_failure(backoff)
                    self._retire(0.0)
                    self._stopping.wait(backoff)
                    backoff = min(2 * backoff, MAX_BACKOFF)
                elif self._sink is None:
                    sink = self._factory()
                    with self.lock:
                        self._sink = sink
                elif self._ship_one():
                    backoff = MIN_BACKOFF
            except Exception as error:
                if self._stopping.is_set():
                    return
                with self.lock:
                    self._failure = self._failure or error

    def _count_adopted(self) -> None:
        for source in list(self.sources):
            if source.counted:
                continue
            if self._stopping.is_set():
                return
            try:
                records, points, size = source.log.pending()
            except OSError as error:
                self._drop(source, error)
                continue
            with self.lock:
                source.records, source.points, source.size = records, points, size
                source.counted = True
                self.lock.notify_all()
            if records:
                log.warning(
                    "tracklog spool: sending %d events (%d metric points) left in %s by a "
                    "process that exited before Kafka acknowledged them",
                    records,
                    points,
                    source.claim.path,
                )

    def _drop(self, source: Source, error: OSError) -> None:
        """Stop shipping an adopted log that cannot be read; it stays on disk, unclaimed."""
        with self.lock:
            self._forget(source)
            source.dropped = True
            self._inflight_records -= len(source.inflight)
            self._inflight_bytes -= sum(entry.record.size for entry in source.inflight)
            source.inflight.clear()
            self.lock.notify_all()
        give_up_unreadable(source, error)

    def _report_failure(self, backoff: float) -> None:
        message = (
            "tracklog spool: cannot send to Kafka (%s); events stay in the spool and are "
            "re-sent from the first unacknowledged one (next try in %.1fs)"
        )
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning(message, self._failure, backoff, extra={OUTAGE_ATTRIBUTE: True})
        else:
            log.debug(message, self._failure, backoff)

    def _ship_one(self) -> bool:
        self._prune()
        if time.monotonic() - self._saved_at >= SAVE_ACKED_SECONDS:  # fewer re-sends after a kill
            self._saved_at = time.monotonic()
            for source in list(self.sources):
                try:
                    source.log.save_acked()
                except OSError as error:  # only costs re-sends after a kill
                    log.warning("tracklog spool: cannot save %s: %s", source.log.directory, error)
        with self.lock:
            while self._window_full() and self._failure is None and not self._stopping.is_set():
                self.lock.wait(0.5)
            if self._failure is not None or self._stopping.is_set():
                return False
            seen, generation = self._appends, self._generation
        for source in list(self.sources):
            try:
                record = source.log.read(source.read_pos)
            except OSError as error:
                if source.callbacks is not None:
                    raise  # this process's own log: retried after a back-off
                self._drop(source, error)
                return True
            if record is not None:
                break
        else:
            with self.lock:
                if self._appends == seen and not self._stopping.is_set():
                    self.lock.wait(0.2)
            return False
        age_days = self._age_days(record)
        if age_days is not None:
            return self._set_aside(source, record, age_days)
        with self.lock:
            entry = InFlight(record, alone=self._isolating is not None)
            source.inflight.append(entry)
            source.read_pos = record.end
            self._inflight_records += 1
            self._inflight_bytes += record.size
        sink = self._sink
        assert sink is not None
        try:
            sink.send(
                record.key,
                record.value,
                lambda error: self._done(source, entry, generation, error),
            )
        except Exception as error:  # refused before joining a batch: it was alone
            if not refused_for_good(error):
                raise
            with self.lock:
                done = self._quarantine(source, entry, error)
            for on_done, refused in done:
                on_done(refused)
        return True

    def _age_days(self, record: SpooledRecord) -> float | None:
        """The record's age in days when it is past ``max_age_days``, else None."""
        if self._max_age_days <= 0:
            return None
        happened = occurred_at(record)
        if happened is None:
            return None
        age = (self._clock() - happened) / DAY_SECONDS
        return age if age > self._max_age_days else None

    def _set_aside(self, source: Source, record: SpooledRecord, age_days: float) -> bool:
        """Quarantine a record too old to send, unsent, once nothing of its log is in flight
        ahead of it (a re-send from the acknowledged prefix would set it aside twice)."""
        with self.lock:
            if source.inflight:
                self.lock.wait(0.05)
                return False
            entry = InFlight(record, alone=True)
            source.inflight.append(entry)
            source.read_pos = record.end
            self._inflight_records += 1
            self._inflight_bytes += record.size
            error = TooOldToSend(age_days, self._max_age_days)
            try:
                path = self.quarantine.put(record.key, record.value, record.points, error)
            except OSError as write_error:  # kept in the spool: retried after a back-off
                log.error("tracklog spool: cannot quarantine an old event: %s", write_error)
                self._failure = self._failure or write_error
                self.lock.notify_all()
                return False
            log.warning(
                "tracklog spool: not sending an event %.1f days old (older than "
                "TRACKLOG_SPOOL_MAX_AGE_DAYS=%g: the worker may have forgotten its id, and a "
                "copy would store its metric points twice): moved it to %s (%d metric points); "
                "`tracklog spool resend` sends it on purpose",
                age_days,
                self._max_age_days,
                path,
                record.points,
            )
            entry.acked, entry.refused = True, error
            done = self._advance(source)
        for on_done, refused in done:
            on_done(refused)
        return True

    def _prune(self) -> None:
        """Delete adopted directories whose every record was acknowledged."""
        for source in list(self.sources):
            sent = source.counted and source.records == 0 and not source.inflight
            if source.callbacks is None and sent:
                with self.lock:
                    self._forget(source)
                source.log.remove()
                source.claim.release(remove=True)
                log.info("tracklog spool: sent everything left in %s", source.claim.path)

    def _forget(self, source: Source) -> None:
        """Stop shipping ``source`` (the caller holds ``lock``)."""
        self.sources.remove(source)
        if self._isolating is not None and self._isolating[0] is source:
            self._isolating = None

    def _window_full(self) -> bool:
        if self._isolating is not None:
            return self._inflight_records >= 1
        return self._inflight_records >= WINDOW_RECORDS or (
            self._inflight_records > 0 and self._inflight_bytes >= WINDOW_BYTES
        )

    def _done(
        self, source: Source, entry: InFlight, generation: int, error: BaseException | None
    ) -> None:
        with self.lock:
            if generation != self._generation or source.dropped:
                return  # a send of a retired producer (its record is re-sent), or skipped
            if error is not None and refused_for_good(error) and entry.alone:
                done = self._quarantine(source, entry, error)
            elif error is not None:
                if refused_for_good(error):  # which record of its batch? one at a time
                    self._isolate(source, entry)
                self._failure = self._failure or error
                self.lock.notify_all()
                return
            else:
                entry.acked = True
                done = self._advance(source)
                if done and self._outage_since is not None:
                    log.warning(
                        "tracklog spool: Kafka acknowledges again after %.0fs; sending the spool",
                        time.monotonic() - self._outage_since,
                        extra={OUTAGE_ATTRIBUTE: False},
                    )
                    self._outage_since = None
        for on_done, refused in done:
            on_done(refused)

    def _isolate(self, source: Source, entry: InFlight) -> None:
        """Send one record at a time until every record through ``entry`` is acknowledged
        or quarantined (the caller holds ``lock``)."""
        through = entry.record.end
        if self._isolating is not None and self._isolating[0] is source:
            through = max(through, self._isolating[1])
        self._isolating = (source, through)

    def _advance(self, source: Source) -> list[tuple[DoneCallback, BaseException | None]]:
        """Move the acknowledged prefix over the leading acknowledged (or quarantined)
        records; return their callbacks, each with None or the error that refused its
        record, to be called without ``lock`` (which the caller holds)."""
        done: list[tuple[DoneCallback, BaseException | None]] = []
        freed = False
        while source.inflight and source.inflight[0].acked:
            entry = source.inflight.popleft()
            record = entry.record
            self._inflight_records -= 1
            self._inflight_bytes -= record.size
            source.records -= 1
            source.points -= record.points
            source.size -= record.size
            source.log.release_through(record.end)
            freed = True
            if source.callbacks is not None:
                done.append((source.callbacks.popleft()[0], entry.refused))
        if freed:
            isolated = self._isolating
            if isolated and isolated[0] is source and source.log.acked >= isolated[1]:
                self._isolating = None
            self.lock.notify_all()  # wakes a send waiting for room, and close
        return done

    def _quarantine(
        self, source: Source, entry: InFlight, error: BaseException
    ) -> list[tuple[DoneCallback, BaseException | None]]:
        """Move a record Kafka refuses for good out of the way: to the quarantine, counted
        as done so the records after it are sent (the caller holds ``lock``)."""
        record = entry.record
        try:
            path = self.quarantine.put(record.key, record.value, record.points, error)
        except OSError as write_error:  # kept in the spool: retried after a back-off
            log.error("tracklog spool: cannot quarantine a refused event: %s", write_error)
            self._failure = self._failure or error
            self.lock.notify_all()
            return []
        log.error(
            "tracklog spool: Kafka refuses an event for good (%s): moved it out of the spool "
            "to %s (%d bytes, %d metric points) and sending the events after it; fix the "
            "cause, then `tracklog spool resend` sends it again",
            error,
            path,
            record.size,
            record.points,
        )
        entry.acked, entry.refused = True, error
        return self._advance(source)

    def _retire(self, timeout: float) -> None:
        """Close the producer, then re-read from the acknowledged prefix with a fresh one.
        After a failure the producer is abandoned: nothing it still queues is sent.
        Otherwise (at stop) it may deliver what it holds within ``timeout``."""
        with self.lock:
            sink, self._sink = self._sink, None
            graceful = self._failure is None and timeout > 0
        if sink is not None:
            acked = let_go(sink, timeout, graceful=graceful)
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
