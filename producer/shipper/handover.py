"""`RingHandover`: the training process's side of the shipper, with the `Batcher`'s
interface (`put`, `mark`, `pending`, `close`).

`put` validates nothing more than the batcher did (the size of an event) and writes
records straight into the session's ring (`tracklog.shipper.ring`): metric points as
packed columns with their run and keys numbered, other events as their serialized
payload. It publishes the ring's head when the whole call is written: once `put`
returned, the call is handed over and survives the death of this process. A full ring
(the shipper is slow or away) makes `put` wait up to ``max_block_seconds``, then raise
`BufferFullError`, as the batcher does.

A forked child never writes into its parent's ring: the first `put` in the child opens
a ring of its own (``os.register_at_fork``).
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import sys
import threading
import time
import uuid
import weakref
from array import array
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tracklog.contract import envelopes
from tracklog.sending.batcher import BufferFullError, PendingEvent, Points
from tracklog.shipper.ring import (
    EVENT,
    EVENT_HEAD,
    HEADER_BYTES,
    NAME_HEAD,
    ONE_POINT,
    PAYLOAD_FIELD_NUMBERS,
    POINTS,
    POINTS_HEAD,
    RECORD_HEAD,
    SKIP,
    U64,
    Field,
    RingFile,
    event_size,
    points_size,
)

_HEAD = int(Field.HEAD)
_ONE_SIZE = ONE_POINT.size
_PACKED_MOST = 256  # calls of up to this many points are packed with one struct
_MAX_KEY_SETS = 1024  # key sets whose numbers are kept packed
_LITTLE = sys.byteorder == "little"  # the ring is little-endian: host-order writes then
_live: weakref.WeakSet[RingHandover] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for handover in list(_live):
        handover.forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


class RingHandover:
    """Calls of one Session, handed over to the shipper through a ring file."""

    def __init__(
        self,
        directory: Path,
        meta: Mapping[str, Any],
        *,
        capacity: int,
        max_block_seconds: float,
        max_event_bytes: int,
        on_wait: Callable[[], None] = lambda: None,
    ) -> None:
        self.directory = directory  # <spool dir>/rings
        self._meta = dict(meta)
        self._capacity = capacity
        self.max_block_seconds = max_block_seconds
        self.max_event_bytes = max_event_bytes
        self._on_wait = on_wait  # called while waiting for room (checks the shipper)
        self._lock = threading.Lock()
        self._structs: dict[int, struct.Struct] = {}
        self._key_sets: dict[tuple[str, ...], bytes] = {}  # keys -> their numbers, packed
        self._closed = False
        self._forked = False
        self._final_pending = (0, 0)  # what pending() says once closed
        self._open()
        _live.add(self)

    def _open(self) -> None:
        self.ring_id = uuid.uuid4().hex
        self.directory.mkdir(parents=True, exist_ok=True)
        base = self.directory / self.ring_id
        meta = {**self._meta, "pid": os.getpid()}
        staging = self.directory / f".{self.ring_id}.json.tmp"
        staging.write_text(json.dumps(meta))
        staging.replace(base.with_suffix(".json"))
        self._names_fd = os.open(base.with_suffix(".names"), os.O_WRONLY | os.O_CREAT, 0o644)
        self._names: dict[str, int] = {}
        self._key_sets = {}
        staged = self.directory / f".{self.ring_id}.ring.tmp"
        self._ring = RingFile(staged, create_capacity=self._capacity)
        fcntl.flock(self._ring.fd, fcntl.LOCK_SH)  # held while this process lives
        staged.rename(base.with_suffix(".ring"))
        self._ring.path = base.with_suffix(".ring")
        self._map = self._ring.map
        # the ring's head as one host-order u64 (one store; on a big-endian host, unused)
        self._head_word = memoryview(self._map)[_HEAD : _HEAD + 8].cast("Q")
        self._capacity = self._ring.capacity
        self._head = self._published = 0
        self._tail = 0
        self.written_events = self.written_points = 0

    def forked(self) -> None:
        """In a forked child: this ring is the parent's (its next `put` opens another)."""
        self._lock = threading.Lock()
        self._forked = True

    def _reopen(self) -> None:
        self._forked = False
        os.close(self._names_fd)
        os.close(self._ring.fd)  # the parent keeps its own lock on the ring
        self._open()

    # the Batcher's interface

    def put(
        self, run_id: str, events: Sequence[PendingEvent] = (), points: Points | None = None
    ) -> None:
        """Hand ``events`` (in order) then ``points`` over, all or nothing (a call larger
        than the ring is handed over in parts). An event too large for the producer to
        send raises ValueError (nothing is handed over)."""
        encoded = [self._payload(event) for event in events] if events else ()
        with self._lock:
            if self._closed or self._forked:
                self._refuse_or_reopen()
            now = time.time_ns()
            try:
                if encoded:
                    self._write_events(run_id, events, encoded)
                if points is not None and points.keys:
                    self._write_points(run_id, points, now)
            except BaseException:
                self._head = self._published  # nothing of the call is handed over
                raise
            if _LITTLE:
                self._head_word[0] = self._published = self._head
            else:
                self._publish(self._head)
            self.written_events += len(encoded)
            if points is not None:
                self.written_points += len(points.keys)

    def put_point(
        self, run_id: str, key: str, step: int, timestamp_ms: int, value: float, key_nbytes: int
    ) -> None:
        """Hand one validated metric point over: `put` of a one-point `Points`, written
        straight into the ring."""
        with self._lock:
            if self._closed or self._forked:
                self._refuse_or_reopen()
            names = self._names
            run = names.get(run_id) or self._define(run_id)
            number = names.get(key) or self._define(key)
            head, capacity = self._head, self._capacity
            room = capacity - head % capacity
            try:
                if room >= _ONE_SIZE and head + _ONE_SIZE - self._tail <= capacity:
                    at = HEADER_BYTES + head % capacity
                    self._head = head = head + _ONE_SIZE
                else:
                    at = self._reserve(_ONE_SIZE)
                    head = self._head
                ONE_POINT.pack_into(
                    self._map,
                    at,
                    _ONE_SIZE,
                    POINTS,
                    0,
                    run,
                    1,
                    time.time_ns(),
                    number,
                    step,
                    timestamp_ms,
                    value,
                )
            except BaseException:
                self._head = self._published  # nothing of the call is handed over
                raise
            if _LITTLE:
                self._head_word[0] = self._published = head
            else:
                self._publish(head)
            self.written_points += 1

    def _publish(self, head: int) -> None:
        """Hand everything below ``head`` over."""
        if _LITTLE:
            self._head_word[0] = head
        else:
            U64.pack_into(self._map, _HEAD, head)
        self._published = head

    def _refuse_or_reopen(self) -> None:
        if self._closed:
            raise RuntimeError("this Tracklog session is closed")
        self._reopen()

    def _payload(self, event: PendingEvent) -> tuple[int, bytes]:
        data = event.payload.SerializeToString()
        if len(data) > self.max_event_bytes:
            raise ValueError(
                f"a {type(event.payload).__name__} event of {len(data):,} bytes is larger than "
                f"Tracklog can send ({self.max_event_bytes:,} bytes: the producer's "
                "max_request_size, TRACKLOG_MAX_EVENT_BYTES, less the envelope); make the value "
                "smaller, or raise TRACKLOG_MAX_EVENT_BYTES together with the topic's "
                "max.message.bytes"
            )
        return PAYLOAD_FIELD_NUMBERS[envelopes.payload_field(event.payload)], data

    def _write_events(
        self, run_id: str, events: Sequence[PendingEvent], encoded: Sequence[tuple[int, bytes]]
    ) -> None:
        names = self._names
        run = names.get(run_id) or self._define(run_id)
        for event, (field, data) in zip(events, encoded, strict=True):
            aggregate = names.get(event.aggregate_id) or self._define(event.aggregate_id)
            size = event_size(len(data))
            at = self._reserve(size)
            EVENT_HEAD.pack_into(
                self._map, at, size, EVENT, field, aggregate, run, len(data), event.occurred_ns
            )
            start = at + EVENT_HEAD.size
            self._map[start : start + len(data)] = data

    def _write_points(self, run_id: str, points: Points, now: int) -> None:
        names = self._names
        run = names.get(run_id) or self._define(run_id)
        keys = points.keys
        n = len(keys)
        if n == 1:
            key = names.get(keys[0]) or self._define(keys[0])
            at = self._reserve(_ONE_SIZE)
            ONE_POINT.pack_into(
                self._map,
                at,
                _ONE_SIZE,
                POINTS,
                0,
                run,
                1,
                now,
                key,
                points.steps[0],
                points.timestamps_ms[0],
                points.values[0],
            )
            return
        numbers = self._key_numbers(keys) if n <= _PACKED_MOST else self._numbered(keys)
        piece = max(1, (self._ring.capacity // 4) // 32)
        if n <= piece and n <= _PACKED_MOST:  # the common call: one record, one struct
            layout = self._layout(n)
            at = self._reserve(layout.size)
            layout.pack_into(
                self._map,
                at,
                layout.size,
                POINTS,
                0,
                run,
                n,
                now,
                numbers,
                *points.steps,
                *points.timestamps_ms,
                *points.values,
            )
            return
        for start in range(0, n, piece):
            stop = min(n, start + piece)
            self._write_columns(run, points, numbers[4 * start : 4 * stop], start, stop, now)

    def _write_columns(
        self, run: int, points: Points, numbers: bytes, start: int, stop: int, now: int
    ) -> None:
        """Points [start, stop) of a large call as one record, column by column."""
        n = stop - start
        size = points_size(n)
        at = self._reserve(size)
        view = self._map
        POINTS_HEAD.pack_into(view, at, size, POINTS, 0, run, n, now)
        at += POINTS_HEAD.size
        view[at : at + 4 * n] = numbers
        at += 4 * n + (-4 * n) % 8
        for column in (
            array("q", points.steps[start:stop]),
            array("q", points.timestamps_ms[start:stop]),
            array("d", points.values[start:stop]),
        ):
            if not _LITTLE:
                column.byteswap()
            view[at : at + 8 * n] = column
            at += 8 * n

    def _key_numbers(self, keys: list[str]) -> bytes:
        """The numbers of ``keys`` packed as u32 (cached per key set), padded to 8 bytes."""
        key_set = tuple(keys)
        packed = self._key_sets.get(key_set)
        if packed is None:
            packed = self._numbered(keys)
            packed += bytes((-len(packed)) % 8)
            if len(self._key_sets) < _MAX_KEY_SETS:
                self._key_sets[key_set] = packed
        return packed

    def _numbered(self, keys: list[str]) -> bytes:
        """The numbers of ``keys`` packed as u32 (named first where new)."""
        names = self._names
        try:
            numbers = list(map(names.__getitem__, keys))
        except KeyError:
            numbers = [names.get(key) or self._define(key) for key in keys]
        return struct.pack(f"<{len(numbers)}I", *numbers)

    def _layout(self, n: int) -> struct.Struct:
        layout = self._structs.get(n)
        if layout is None:
            numbers = 4 * n + (-4 * n) % 8
            layout = struct.Struct(f"{POINTS_HEAD.format}{numbers}s{n}q{n}q{n}d")
            assert layout.size == points_size(n)
            self._structs[n] = layout
        return layout

    def _define(self, name: str) -> int:
        number = len(self._names) + 1
        data = name.encode()
        os.write(self._names_fd, NAME_HEAD.pack(number, len(data)) + data)
        self._names[name] = number
        return number

    def _reserve(self, size: int) -> int:
        """Room for a record of ``size`` bytes at the head: its offset in the file."""
        ring = self._ring
        head, capacity = self._head, ring.capacity
        room = capacity - head % capacity
        need = size if room >= size else room + size
        if head + need - self._tail > capacity:
            self._tail = ring.get(Field.TAIL)
            if head + need - self._tail > capacity:
                self._wait_for_room(need)
        if room < size:  # the record starts again at the beginning of the data area
            RECORD_HEAD.pack_into(self._map, ring.offset(head), room, SKIP)
            head += room
        self._head = head + size
        return ring.offset(head)

    def _wait_for_room(self, need: int) -> None:
        ring = self._ring
        if need > ring.capacity:
            raise ValueError(f"a record of {need} bytes cannot fit the ring ({ring.capacity})")
        if self._head + need - self._published > ring.capacity:  # a call larger than the ring
            U64.pack_into(self._map, _HEAD, self._head)
            self._published = self._head
        deadline = time.monotonic() + self.max_block_seconds
        pause = 0.0005
        while self._head + need - self._tail > ring.capacity:
            ring.set(Field.FLUSH, self._published)  # ship at once, no lingering
            if time.monotonic() >= deadline:
                raise BufferFullError(
                    f"Tracklog buffer full for {self.max_block_seconds}s: the handover ring "
                    f"{ring.path} holds {self._head - self._tail:,} bytes not yet taken by the "
                    f"shipper process (capacity {ring.capacity:,}); this call was not queued. "
                    "Is the broker reachable, and the spool not full?"
                )
            self._on_wait()
            time.sleep(pause)
            pause = min(pause * 2, 0.01)
            self._tail = ring.get(Field.TAIL)

    def prepare_ahead(self) -> None:
        """Make the half of the ring after the head writable now (`RingFile.prepare`),
        off the logging thread: the session's keeper thread calls this twice a second."""
        if self._closed or self._forked:
            return
        self._ring.prepare(self._head, self._ring.capacity // 2)

    def mark(self) -> int:
        """The position after everything handed over so far; asks the shipper not to
        linger over it."""
        with self._lock:
            if not self._closed and not self._forked:
                self._ring.set(Field.FLUSH, self._published)
            return self._published

    def pending(self) -> tuple[int, int]:
        """(events, metric points) handed over and not yet acknowledged by Kafka."""
        with self._lock:
            if self._forked or self._closed:
                return self._final_pending
            ring = self._ring
            return (
                max(0, self.written_events - ring.get(Field.ACKED_EVENTS)),
                max(0, self.written_points - ring.get(Field.ACKED_POINTS)),
            )

    def close(self) -> None:
        """Refuse new calls and detach the ring: the shipper sends what it holds, then
        deletes it."""
        with self._lock:
            if self._closed:
                return
            if self._forked:
                self._closed = True
                return
            ring = self._ring
            self._final_pending = (
                max(0, self.written_events - ring.get(Field.ACKED_EVENTS)),
                max(0, self.written_points - ring.get(Field.ACKED_POINTS)),
            )
            self._closed = True
            ring.set(Field.CLOSED, 1)
            os.close(self._names_fd)
            self._head_word.release()
            self._ring.close()  # releases the lock: the ring is the shipper's alone

    # what the shipper reports (read by Delivery)

    @property
    def ring(self) -> RingFile:
        return self._ring

    @property
    def closed(self) -> bool:
        return self._closed
