"""The bounded, ordered in-memory queue between logging calls and the sender thread.

Metric points are buffered columnar per run and cut into chunks of at most
``max_batch_points`` points and about ``max_batch_bytes`` bytes (each chunk
becomes one ``MetricsLogged`` event). Any other event of a run first seals the
run's open points into the queue, so a run's events leave in call order.

Memory policy: at most ``max_buffered_points`` metric points and
``max_buffered_events`` other events are held, counting what the sender has
taken but not yet handed to the Kafka producer. A call that does not fit waits
up to ``max_block_seconds`` for the sender to make room, then raises
`BufferFullError` naming what is pending; nothing is ever dropped silently. A
single call larger than the whole bound is accepted only into an empty buffer.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tracklog.events.payloads import Payload

# Bytes a point costs in a MetricsLogged message besides its key (3 varints/doubles + tags).
POINT_OVERHEAD_BYTES = 32
# Bytes an event costs besides its payload: the envelope (ids, times) and Kafka's record.
ENVELOPE_ROOM_BYTES = 1024


class BufferFullError(RuntimeError):
    """The in-memory buffer stayed full for ``max_block_seconds``; the call queued nothing."""


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A non-metric event waiting to be sent (its payload is already built)."""

    aggregate_id: str
    payload: Payload
    occurred_ns: int


@dataclass(frozen=True, slots=True)
class PointChunk:
    """Metric points of one run that will travel as one MetricsLogged event."""

    run_id: str
    keys: list[str]
    steps: list[int]
    timestamps_ms: list[int]
    values: list[float]
    occurred_ns: int


@dataclass(slots=True)  # not frozen: built once per logging call, frozen init costs ~0.4us
class Points:
    """Validated metric columns of one call; ``nbytes`` is the UTF-8 size of the keys."""

    keys: list[str]
    steps: list[int]
    timestamps_ms: list[int]
    values: list[float]
    nbytes: int


Item = PendingEvent | PointChunk


class Handover(Protocol):
    """Where logging calls put their events: the `Batcher` (in-process sending) or the
    shipper process's ring (`tracklog.shipper.handover.RingHandover`)."""

    def put(
        self, run_id: str, events: Sequence[PendingEvent] = (), points: Points | None = None
    ) -> None: ...

    def put_point(
        self, run_id: str, key: str, step: int, timestamp_ms: int, value: float, key_nbytes: int
    ) -> None: ...

    def mark(self) -> int: ...

    def pending(self) -> tuple[int, int]: ...

    def close(self) -> None: ...


class _Open:
    __slots__ = ("keys", "nbytes", "since_ns", "steps", "timestamps_ms", "values")

    def __init__(self, since_ns: int) -> None:
        self.keys: list[str] = []
        self.steps: list[int] = []
        self.timestamps_ms: list[int] = []
        self.values: list[float] = []
        self.nbytes = 0
        self.since_ns = since_ns


class Batcher:
    def __init__(
        self,
        *,
        max_batch_points: int = 10_000,
        max_batch_bytes: int = 512 * 1024,
        max_buffered_points: int = 2_000_000,
        max_buffered_events: int = 100_000,
        max_block_seconds: float = 60.0,
        max_event_bytes: int = 1_048_576 - ENVELOPE_ROOM_BYTES,
    ) -> None:
        self.max_batch_points = max_batch_points
        self.max_event_bytes = max_event_bytes  # the largest payload of an event
        self.max_batch_bytes = max_batch_bytes
        self.max_buffered_points = max_buffered_points
        self.max_buffered_events = max_buffered_events
        self.max_block_seconds = max_block_seconds
        self._lock = lock = threading.Lock()
        self._has_work = threading.Condition(lock)
        self._has_space = threading.Condition(lock)
        self._open: dict[str, _Open] = {}
        self._queue: deque[Item] = deque()
        self._points = 0  # buffered points: open + queued + taken but not released
        self._events = 0  # same for non-metric events
        self._appended = 0  # serial of the last item appended to the queue
        self._wake = False
        self._drain_all = False  # seal every open buffer at the next take (callers wait)
        self._closed = False

    def put(
        self, run_id: str, events: Sequence[PendingEvent] = (), points: Points | None = None
    ) -> None:
        """Queue ``events`` (in order) then ``points``, all or nothing. An event too large
        for the producer to send raises ValueError (nothing is queued)."""
        for event in events:
            if event.payload.ByteSize() > self.max_event_bytes:
                raise ValueError(
                    f"a {type(event.payload).__name__} event of {event.payload.ByteSize():,} "
                    f"bytes is larger than Tracklog can send ({self.max_event_bytes:,} bytes: "
                    "the producer's max_request_size, TRACKLOG_MAX_EVENT_BYTES, less the "
                    "envelope); make the value smaller, or raise TRACKLOG_MAX_EVENT_BYTES "
                    "together with the topic's max.message.bytes"
                )
        n_points = len(points.keys) if points is not None else 0
        n_events = len(events)
        with self._lock:  # the conditions' lock; plain `with lock` is cheaper on the hot path
            if self._closed:
                raise RuntimeError("this Tracklog session is closed")
            if (
                self._points + n_points > self.max_buffered_points
                or self._events + n_events > self.max_buffered_events
            ):
                self._wait_for_space(n_points, n_events)
            self._points += n_points
            self._events += n_events
            if events:
                self._seal(run_id)
                for event in events:
                    self._append(event)
            if points is not None and n_points:
                self._add_points(run_id, points)

    def put_point(
        self, run_id: str, key: str, step: int, timestamp_ms: int, value: float, key_nbytes: int
    ) -> None:
        """Queue one validated metric point (``key_nbytes``: the UTF-8 size of ``key``):
        `put` of a one-point `Points`, appended straight to the run's open columns."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this Tracklog session is closed")
            if self._points >= self.max_buffered_points or self._events > self.max_buffered_events:
                self._wait_for_space(1, 0)
            self._points += 1
            buf = self._open.get(run_id)
            if buf is None:
                buf = self._open[run_id] = _Open(time.time_ns())
            keys = buf.keys
            keys.append(key)
            buf.steps.append(step)
            buf.timestamps_ms.append(timestamp_ms)
            buf.values.append(value)
            buf.nbytes += key_nbytes
            if len(keys) >= self.max_batch_points or buf.nbytes >= self.max_batch_bytes:
                self._seal(run_id)
                self._wake = True
                self._has_work.notify()

    def _wait_for_space(self, n_points: int, n_events: int) -> None:
        deadline = time.monotonic() + self.max_block_seconds
        while (self._points + n_points > self.max_buffered_points and self._points > 0) or (
            self._events + n_events > self.max_buffered_events and self._events > 0
        ):
            self._wake = self._drain_all = True
            self._has_work.notify()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed:
                raise BufferFullError(
                    f"Tracklog buffer full for {self.max_block_seconds}s: {self._points} metric "
                    f"points (max {self.max_buffered_points}) and {self._events} events "
                    f"(max {self.max_buffered_events}) are pending; this call ({n_points} points, "
                    f"{n_events} events) was not queued. Is the broker reachable?"
                )
            self._has_space.wait(remaining)

    def _add_points(self, run_id: str, points: Points) -> None:
        buf = self._open.get(run_id)
        if buf is None:
            buf = self._open[run_id] = _Open(time.time_ns())
        buf.keys.extend(points.keys)
        buf.steps.extend(points.steps)
        buf.timestamps_ms.extend(points.timestamps_ms)
        buf.values.extend(points.values)
        buf.nbytes += points.nbytes
        if len(buf.keys) >= self.max_batch_points or buf.nbytes >= self.max_batch_bytes:
            self._seal(run_id)
            self._wake = True
            self._has_work.notify()

    def _append(self, item: Item) -> None:
        self._queue.append(item)
        self._appended += 1

    def _seal(self, run_id: str) -> None:
        buf = self._open.pop(run_id, None)
        if buf is None:
            return
        for start, stop in self._cuts(buf):
            self._append(
                PointChunk(
                    run_id,
                    buf.keys[start:stop],
                    buf.steps[start:stop],
                    buf.timestamps_ms[start:stop],
                    buf.values[start:stop],
                    buf.since_ns,
                )
            )

    def _cuts(self, buf: _Open) -> list[tuple[int, int]]:
        n = len(buf.keys)
        if buf.nbytes + n * POINT_OVERHEAD_BYTES <= self.max_batch_bytes:
            return [
                (i, min(i + self.max_batch_points, n)) for i in range(0, n, self.max_batch_points)
            ]
        cuts, start, size = [], 0, 0
        for i, key in enumerate(buf.keys):
            cost = len(key.encode()) + POINT_OVERHEAD_BYTES
            if i > start and (
                i - start >= self.max_batch_points or size + cost > self.max_batch_bytes
            ):
                cuts.append((start, i))
                start, size = i, 0
            size += cost
        cuts.append((start, n))
        return cuts

    def mark(self) -> int:
        """Seal every open buffer, wake the sender, return the serial of the last queued item."""
        with self._has_work:
            for run_id in list(self._open):
                self._seal(run_id)
            self._wake = True
            self._has_work.notify()
            return self._appended

    def take(self, linger_seconds: float) -> tuple[int, list[Item]] | None:
        """Wait up to ``linger_seconds`` (less when woken) and take everything queued.

        Open point buffers older than ``linger_seconds`` are sealed first (all of
        them when callers wait for room or the batcher is closed), so fast loggers
        send full chunks. Returns the serial of the first item taken and the
        items, or None once the batcher is closed and empty. Taken items still
        count against the bound until `release` is called for them.
        """
        with self._has_work:
            if not self._wake and not self._closed:
                self._has_work.wait(linger_seconds)
            self._wake = False
            oldest = time.time_ns() - int(linger_seconds * 1e9)
            seal_all, self._drain_all = self._drain_all or self._closed, False
            for run_id, buf in list(self._open.items()):
                if seal_all or buf.since_ns <= oldest:
                    self._seal(run_id)
            if not self._queue:
                return None if self._closed else (self._appended + 1, [])
            items = list(self._queue)
            self._queue.clear()
            return self._appended - len(items) + 1, items

    def release(self, item: Item) -> None:
        """The sender handed ``item`` to the producer: its room is free again."""
        with self._has_work:
            if isinstance(item, PointChunk):
                self._points -= len(item.keys)
            else:
                self._events -= 1
            self._has_space.notify_all()

    def pending(self) -> tuple[int, int]:
        """(events, metric points) not yet handed to the producer."""
        with self._has_work:
            return self._events, self._points

    def close(self) -> None:
        """Refuse new calls; the sender drains what is queued and then stops."""
        with self._has_work:
            self._closed = True
            self._has_work.notify_all()
            self._has_space.notify_all()
