"""`ShipperCore`: reads the rings of a spool directory in slices and hands their envelopes
to the disk spool (a `SpoolingSink`), reporting in each ring's header what reached the
spool (``tail``) and what Kafka acknowledged (``acked``, with the acknowledged positions
for flush tokens).

It runs in the shipper process for every ring of the directory, or, when no shipper
process can start, on a thread of the training process for that process's ring only.
A reader holds an exclusive ``flock`` on a ring's names file, so no two read one ring.

After a restart the spool first sends what the killed shipper spooled (its directory is
adopted); until that is acknowledged, a ring's ``acked`` stays where the killed shipper
left it (`RingReader.barrier`). A ring is deleted once everything in it is spooled and
its writer closed it or died.

What happened to a ring's events after their handover is counted in its header: events
lost (``failed``), of which dropped because the spool was full and quarantined (Kafka
refused them for good, or they were too old to send), with their metric points; the
writer's `Session.spool` reports these. In the shipper process, a `NoticeBoard` copies
the process's warnings into the notices file of every ring being read.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tracklog.sending.sink import DoneCallback
from tracklog.shipper.notices import NoticeBoard
from tracklog.shipper.ring import (
    HEADER_BYTES,
    SUFFIXES,
    U64,
    Field,
    RingFile,
    read_names,
    rings_dir,
)
from tracklog.shipper.slices import Limits, RingState, SliceEncoder, slice_end
from tracklog.spool.spooling_sink import SpoolFullError

log = logging.getLogger(__name__)

SLICE_BYTES = 4 * 1024 * 1024
SCAN_SECONDS = 0.25
Acked = tuple[int, int, int]  # (position, events, points)


class Spool(Protocol):
    def send_weighed(
        self, key: bytes, value: bytes, points: int, on_done: DoneCallback
    ) -> None: ...
    def acked_positions(self) -> dict[tuple[str, int], int]: ...
    def adopted_pending(self) -> bool: ...


@dataclass(slots=True)
class _Slice:
    acked: Acked  # the ring's position, events and points once it is acknowledged
    outstanding: int
    handed: bool = False  # every envelope of it is in the spool


class RingReader:
    """One ring being read: its file, names, saved state and unacknowledged slices."""

    def __init__(self, directory: Path, ring_id: str, meta: dict[str, object], lock_fd: int):
        self.ring_id = ring_id
        self.paths = {suffix: directory / f"{ring_id}.{suffix}" for suffix in SUFFIXES}
        self.lock_fd = lock_fd
        self.ring = RingFile(self.paths["ring"])
        self.names: dict[int, str] = {}
        self._names_read = 0
        self.state = RingState.load(self.paths["state"])
        ring = self.ring
        if ring.get(Field.TAIL) < self.state.tail:  # killed between saving and the tail
            ring.set(Field.TAIL, self.state.tail)
        self.acked: Acked = (
            ring.get(Field.ACKED),
            ring.get(Field.ACKED_EVENTS),
            ring.get(Field.ACKED_POINTS),
        )
        self.barrier: Acked | None = None
        if self.acked[0] < self.state.tail:  # spooled by a shipper that was killed
            self.barrier = (self.state.tail, self.state.events, self.state.points)
        limits = Limits(int(str(meta["max_batch_points"])), int(str(meta["max_batch_bytes"])))
        self.linger = float(str(meta.get("linger_seconds", 0.05)))
        self.encoder = SliceEncoder(ring, ring_id, limits, self.name_of)
        self.slices: deque[_Slice] = deque()
        self.waiting_since: float | None = None
        self.removed = False

    def name_of(self, number: int) -> str:
        name = self.names.get(number)
        if name is None:
            self._names_read = read_names(self.paths["names"], self._names_read, self.names)
            name = self.names.get(number)
            if name is None:
                raise ValueError(f"{self.paths['names']} does not name {number}")
        return name

    def writer_gone(self) -> bool:
        """The writer closed the ring, or its process is gone (it held a shared lock)."""
        if self.ring.get(Field.CLOSED):
            return True
        fd = os.open(self.paths["ring"], os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        finally:
            os.close(fd)
        return True

    def remove(self) -> None:
        self.removed = True
        self.ring.close()
        for path in self.paths.values():
            path.unlink(missing_ok=True)
        os.close(self.lock_fd)


class ShipperCore:
    def __init__(
        self,
        spool_dir: Path,
        target: str,
        spool: Spool,
        *,
        only: str | None = None,
        slice_bytes: int = SLICE_BYTES,
        notices: NoticeBoard | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Read the rings under ``spool_dir`` meant for ``target`` (brokers and topic) and
        made for a shipper of ``fingerprint`` (its settings, when given), or only the ring
        ``only``, into ``spool``; ``notices`` learns which rings are read."""
        self.directory = rings_dir(spool_dir)
        self._target = target
        self._spool = spool
        self._only = only
        self._slice_bytes = slice_bytes
        self._lock = threading.Lock()
        self.readers: dict[str, RingReader] = {}
        self._ignored: set[str] = set()
        self._scanned_at = 0.0
        self._notices = notices
        self._fingerprint = fingerprint
        self._positions_too_long = False

    def step(self) -> bool:
        """One pass over the rings; True when it spooled something."""
        if time.monotonic() - self._scanned_at >= SCAN_SECONDS:
            self._scanned_at = time.monotonic()
            self._scan()
            self._remove_finished()
        busy = False
        for reader in list(self.readers.values()):
            try:
                busy = self._ship(reader) or busy
            except (OSError, ValueError) as error:
                log.error("tracklog shipper: cannot read the ring %s: %s", reader.ring_id, error)
                self._forget(reader)
                continue
            if reader.barrier is not None and not self._spool.adopted_pending():
                with self._lock:
                    if reader.barrier[0] > reader.acked[0]:
                        reader.acked = reader.barrier
                    reader.barrier = None
                    self._publish(reader)
        return busy

    def _scan(self) -> None:
        try:
            found = [p for p in self.directory.glob("*.ring") if not p.name.startswith(".")]
        except OSError:
            return
        for path in found:
            ring_id = path.stem
            if ring_id in self.readers or ring_id in self._ignored:
                continue
            if self._only is not None and ring_id != self._only:
                continue
            try:
                meta = json.loads(path.with_suffix(".json").read_text())
            except (OSError, ValueError):
                continue  # being made, or being removed
            if meta.get("target") != self._target or (
                self._fingerprint is not None
                and meta.get("fingerprint") not in (None, self._fingerprint)
            ):
                self._ignored.add(ring_id)  # for other settings: its writer sends it itself
                continue
            try:
                fd = os.open(path.with_suffix(".names"), os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                reader = RingReader(self.directory, ring_id, meta, fd)
            except (OSError, ValueError) as error:
                os.close(fd)  # read by another (a training process's own fallback)
                log.debug("tracklog shipper: not reading %s: %s", ring_id, error)
                continue
            self.readers[ring_id] = reader
            if self._notices is not None:
                self._notices.attach(ring_id, reader.paths["notices"])

    def _remove_finished(self) -> None:
        for reader in list(self.readers.values()):
            ring = reader.ring
            head = ring.get(Field.HEAD)
            if reader.state.tail < head or ring.get(Field.SLICE_END) > reader.state.tail:
                continue
            if reader.writer_gone():
                self._detach(reader.ring_id)
                with self._lock:
                    del self.readers[reader.ring_id]
                    reader.remove()

    def _detach(self, ring_id: str) -> None:
        if self._notices is not None:
            self._notices.detach(ring_id)

    def _forget(self, reader: RingReader) -> None:
        self._detach(reader.ring_id)
        with self._lock:
            self.readers.pop(reader.ring_id, None)
            self._ignored.add(reader.ring_id)
            reader.removed = True
        os.close(reader.lock_fd)

    def _due(self, reader: RingReader, head: int) -> bool:
        ring, tail = reader.ring, reader.state.tail
        if (
            head - tail >= self._slice_bytes // 4
            or ring.get(Field.FLUSH) > tail
            or ring.get(Field.CLOSED)
        ):
            return True
        now = time.monotonic()
        if reader.waiting_since is None:
            reader.waiting_since = now
        return now - reader.waiting_since >= reader.linger

    def _ship(self, reader: RingReader) -> bool:
        ring, tail = reader.ring, reader.state.tail
        left = ring.get(Field.SLICE_END)
        if left > tail:
            end = left  # the slice a killed shipper was spooling: exactly it, again
        else:
            head = ring.get(Field.HEAD)
            if head <= tail or not self._due(reader, head):
                return False
            end = slice_end(ring, tail, head, self._slice_bytes)
            ring.set(Field.SLICE_END, end)
        reader.waiting_since = None
        old = reader.state
        state = RingState(old.tail, dict(old.sequences), old.events, old.points)
        encoded, events, points = reader.encoder.encode(tail, end, state)
        state.tail, state.events, state.points = end, old.events + events, old.points + points
        piece = _Slice((end, state.events, state.points), len(encoded))
        with self._lock:
            reader.slices.append(piece)
        try:
            for item in encoded:
                on_done = functools.partial(self._done, reader, piece, item.points)
                self._spool.send_weighed(item.key, item.value, item.points, on_done)
            state.save(reader.paths["state"])
        except BaseException:
            with self._lock:  # the slice is encoded and spooled again (same event ids)
                reader.slices.remove(piece)
            raise
        reader.state = state
        ring.set(Field.TAIL, end)
        with self._lock:
            piece.handed = True
            self._advance(reader)
        return True

    def _done(
        self, reader: RingReader, piece: _Slice, points: int, error: BaseException | None
    ) -> None:
        with self._lock:
            piece.outstanding -= 1
            if error is not None and not reader.removed:
                ring = reader.ring
                ring.set(Field.FAILED, ring.get(Field.FAILED) + 1)
                if isinstance(error, SpoolFullError):
                    events, points_field = Field.DROPPED_EVENTS, Field.DROPPED_POINTS
                else:  # refused for good or too old: the spool quarantined it
                    events, points_field = Field.QUARANTINED_EVENTS, Field.QUARANTINED_POINTS
                ring.set(events, ring.get(events) + 1)
                ring.set(points_field, ring.get(points_field) + points)
            self._advance(reader)

    def _advance(self, reader: RingReader) -> None:
        """Move the ring's acknowledged position over the leading acknowledged slices
        (the caller holds the lock)."""
        moved = False
        slices = reader.slices
        while slices and slices[0].handed and slices[0].outstanding <= 0:
            reader.acked = slices.popleft().acked
            moved = True
        if moved and reader.barrier is None:
            self._publish(reader)

    def _publish(self, reader: RingReader) -> None:
        if reader.removed:
            return
        ring = reader.ring
        positions = [[log, part, off] for (log, part), off in self._positions().items()]
        data = json.dumps(positions).encode()
        if Field.POSITIONS + len(data) <= HEADER_BYTES:
            version = ring.get(Field.POSITIONS_VERSION) + 1
            ring.set(Field.POSITIONS_VERSION, version)  # odd: being rewritten
            ring.set(Field.POSITIONS_LENGTH, len(data))
            ring.map[Field.POSITIONS : Field.POSITIONS + len(data)] = data
            ring.set(Field.POSITIONS_VERSION, version + 1)
        elif not self._positions_too_long:
            self._positions_too_long = True
            log.error(
                "tracklog shipper: the acknowledged positions (%d bytes of JSON) do not fit a "
                "ring's header; flush tokens name the last positions that fitted (older)",
                len(data),
            )
        position, events, points = reader.acked
        ring.set(Field.ACKED_EVENTS, events)
        ring.set(Field.ACKED_POINTS, points)
        U64.pack_into(ring.map, Field.ACKED, position)

    def _positions(self) -> dict[tuple[str, int], int]:
        try:
            return self._spool.acked_positions()
        except Exception as error:  # no metadata yet: nothing to name
            log.debug("tracklog shipper: no positions: %s", error)
            return {}

    def attached(self) -> int:
        """Rings being read."""
        return len(self.readers)

    def close(self) -> None:
        """Stop reading (the rings stay for the next reader)."""
        with self._lock:
            readers, self.readers = list(self.readers.values()), {}
            for reader in readers:
                reader.removed = True
        for reader in readers:
            self._detach(reader.ring_id)
            reader.ring.close()
            os.close(reader.lock_fd)


def run_until(core: ShipperCore, stop: Callable[[], bool], poll_seconds: float = 0.005) -> None:
    """Step ``core`` until ``stop()``; pause ``poll_seconds`` after an idle pass (four
    times that after a second without work)."""
    failures = 0
    worked = time.monotonic()
    while not stop():
        try:
            busy = core.step()
            failures = 0
        except Exception as error:  # the spool refused a write: retried after a pause
            failures += 1
            log.warning("tracklog shipper: %s; retrying", error)
            time.sleep(min(0.1 * 2**failures, 5.0))
            continue
        if busy:
            worked = time.monotonic()
        else:
            idle = time.monotonic() - worked
            time.sleep(poll_seconds if idle < 1.0 else 4 * poll_seconds)
