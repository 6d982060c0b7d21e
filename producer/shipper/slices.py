"""How the shipper turns a slice of a ring into envelopes, the same way every time.

The shipper takes a ring in slices. It writes a slice's end into the ring's header
before encoding it, and advances the ring's tail over it only after every envelope of
the slice is in the disk spool and the ring's `RingState` (written atomically) says
so. A shipper killed in between leaves the slice's end behind; the next one encodes
exactly that slice again, from the saved state, and so makes the same envelopes: the
same event ids (derived from the ring id, the slice's start and the envelope's index in
it), the same producer session (the ring id) and sequences (per aggregate, counted in
the state). A copy that the killed shipper had already spooled reaches Kafka twice and
the worker drops it by its event id.

Within a slice, a run's metric points are gathered in call order and cut into
``MetricsLogged`` events of at most ``max_batch_points`` points and about
``max_batch_bytes`` bytes; any other event of the run first seals the run's gathered
points, so a run's events keep their call order (as `tracklog.sending.batcher` does).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tracklog.contract.envelopes import AGGREGATE_TYPES, timestamp
from tracklog.contract.wire import length_delimited
from tracklog.sending.batcher import POINT_OVERHEAD_BYTES
from tracklog.shipper.ring import (
    EVENT,
    EVENT_HEAD,
    ONE_POINT,
    PAYLOAD_FIELD_NUMBERS,
    POINTS,
    POINTS_HEAD,
    RECORD_HEAD,
    SKIP,
    RingFile,
    points_size,
)
from tracklog.v1 import events_pb2 as pb

_FIELD_NAMES = {number: name for name, number in PAYLOAD_FIELD_NUMBERS.items()}
_BLOCK_FIRST, _BLOCK_MOST = 64, 65_536  # records read together: at first, at most
_PEEK = 8  # a block is read when the next record and the one this far ahead are alike


@dataclass(slots=True)
class RingState:
    """What the shipper spooled of one ring: everything below ``tail``, with the last
    sequence given to each aggregate and the events and points spooled so far."""

    tail: int = 0
    sequences: dict[str, int] = field(default_factory=dict)
    events: int = 0
    points: int = 0

    @classmethod
    def load(cls, path: Path) -> RingState:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        return cls(int(data["tail"]), dict(data["sequences"]), data["events"], data["points"])

    def save(self, path: Path) -> None:
        """Replace the file atomically (write, then rename); not fsynced, as the spool."""
        staging = path.with_name(f".{path.name}.tmp")
        staging.write_text(
            json.dumps(
                {
                    "tail": self.tail,
                    "sequences": self.sequences,
                    "events": self.events,
                    "points": self.points,
                }
            )
        )
        staging.replace(path)


@dataclass(frozen=True, slots=True)
class Encoded:
    key: bytes
    value: bytes
    points: int  # metric points it carries (0 for another event)


@dataclass(slots=True)
class _Gathered:
    occurred_ns: int
    keys: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    stamps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Limits:
    max_batch_points: int
    max_batch_bytes: int


def slice_end(ring: RingFile, start: int, head: int, max_bytes: int) -> int:
    """The end of the slice from ``start``: the first record boundary at least
    ``max_bytes`` past it, or ``head``."""
    position = start
    view = ring.map
    while position < head and position - start < max_bytes:
        length = RECORD_HEAD.unpack_from(view, ring.offset(position))[0]
        position += length
    return position


class SliceEncoder:
    """Encodes the slices of one ring."""

    def __init__(
        self,
        ring: RingFile,
        ring_id: str,
        limits: Limits,
        name_of: Callable[[int], str],
    ) -> None:
        self._ring = ring
        self._ring_id = ring_id
        self._limits = limits
        self._name_of = name_of
        self._key_bytes: dict[str, int] = {}
        self._layouts: dict[int, struct.Struct] = {}
        self._dtypes: dict[int, np.dtype[Any]] = {}
        self._names: dict[int, str] = {}  # key numbers met so far

    def encode(self, start: int, end: int, state: RingState) -> tuple[list[Encoded], int, int]:
        """The envelopes of the records in [start, end) in order, numbered from
        ``state.sequences`` (updated); with the slice's events and points."""
        ring, view = self._ring, self._ring.map
        name_of = self._name_of
        out: list[Encoded] = []
        gathered: dict[int, _Gathered] = {}
        events = points = 0
        position = start
        while position < end:
            at = ring.offset(position)
            length, kind = RECORD_HEAD.unpack_from(view, at)
            if length <= 0:
                raise ValueError(f"a record of length 0 at {position} in {ring.path}")
            position += length
            if kind == POINTS:
                _, _, _, run, n, occurred = POINTS_HEAD.unpack_from(view, at)
                g = gathered.get(run)
                if g is None:
                    g = gathered[run] = _Gathered(occurred)
                fit = min(end - position + length, ring.room_before_end(position - length))
                if (
                    fit >= _PEEK * length
                    and self._same(at, length, n, run, 1)
                    and self._same(at, length, n, run, _PEEK - 1)
                ):
                    taken = self._block(g, at, length, n, run, fit // length)
                    position += (taken - 1) * length
                    points += taken * n
                    continue
                if n == 1:
                    _, _, _, _, _, _, key, step, stamp, value = ONE_POINT.unpack_from(view, at)
                    g.keys.append(key)
                    g.steps.append(step)
                    g.stamps.append(stamp)
                    g.values.append(value)
                else:
                    columns = self._layout(n).unpack_from(view, at + POINTS_HEAD.size)
                    g.keys.extend(columns[:n])
                    g.steps.extend(columns[n : 2 * n])
                    g.stamps.extend(columns[2 * n : 3 * n])
                    g.values.extend(columns[3 * n :])
                points += n
            elif kind == EVENT:
                _, _, number, aggregate, run, size, occurred = EVENT_HEAD.unpack_from(view, at)
                if run in gathered:
                    self._seal(name_of(run), gathered.pop(run), start, out, state)
                data = bytes(view[at + EVENT_HEAD.size : at + EVENT_HEAD.size + size])
                self._event(name_of(aggregate), number, data, occurred, start, out, state)
                events += 1
            elif kind != SKIP:
                raise ValueError(f"a record of unknown kind {kind} at {position} in {ring.path}")
        for run, g in gathered.items():
            self._seal(name_of(run), g, start, out, state)
        return out, events, points

    def _same(self, at: int, length: int, n: int, run: int, ahead: int) -> bool:
        """Whether the record ``ahead`` records of ``length`` after ``at`` (when those
        before it are as long) is a POINTS record of ``n`` points of ``run`` as well."""
        other = at + ahead * length
        head: tuple[int, int, int, int, int, int] = POINTS_HEAD.unpack_from(self._ring.map, other)
        return head[0] == length and head[1] == POINTS and head[4] == n and head[3] == run

    def _block(self, g: _Gathered, at: int, length: int, n: int, run: int, most: int) -> int:
        """Gather the POINTS records of ``n`` points of ``run`` that follow one another
        from ``at`` (at most ``most``), column by column; return how many there were."""
        dtype = self._dtype(n)
        taken, window = 0, _BLOCK_FIRST
        while taken < most:
            count = min(window, most - taken)
            records = np.frombuffer(self._ring.map, dtype, count, at + taken * length)
            same = (
                (records["length"] == length)
                & (records["kind"] == POINTS)
                & (records["n"] == n)
                & (records["run"] == run)
            )
            matched = count if bool(same.all()) else int(same.argmin())
            block = records[:matched]
            g.keys.extend(block["keys"].ravel().tolist())
            g.steps.extend(block["steps"].ravel().tolist())
            g.stamps.extend(block["stamps"].ravel().tolist())
            g.values.extend(block["values"].ravel().tolist())
            taken += matched
            if matched < count:
                break
            window = min(window * 2, _BLOCK_MOST)
        return taken

    def _dtype(self, n: int) -> np.dtype[Any]:
        """A POINTS record of ``n`` points as a numpy record."""
        dtype = self._dtypes.get(n)
        if dtype is None:
            fields: list[tuple[Any, ...]] = [
                ("length", "<u4"),
                ("kind", "<u2"),
                ("flags", "<u2"),
                ("run", "<u4"),
                ("n", "<u4"),
                ("occurred", "<i8"),
                ("keys", "<u4", (n,)),
            ]
            if (-4 * n) % 8:
                fields.append(("pad", f"V{(-4 * n) % 8}"))
            fields += [("steps", "<i8", (n,)), ("stamps", "<i8", (n,)), ("values", "<f8", (n,))]
            dtype = np.dtype(fields)
            assert dtype.itemsize == points_size(n)
            if len(self._dtypes) < 1024:
                self._dtypes[n] = dtype
        return dtype

    def _layout(self, n: int) -> struct.Struct:
        layout = self._layouts.get(n)
        if layout is None:
            layout = struct.Struct(f"<{n}I{(-4 * n) % 8}x{n}q{n}q{n}d")
            if len(self._layouts) < 1024:
                self._layouts[n] = layout
        return layout

    def _envelope(
        self,
        aggregate_id: str,
        field_name: str,
        occurred_ns: int,
        start: int,
        index: int,
        state: RingState,
    ) -> pb.Envelope:
        sequence = state.sequences.get(aggregate_id, 0) + 1
        state.sequences[aggregate_id] = sequence
        seed = f"{self._ring_id}:{start}:{index}".encode()
        return pb.Envelope(
            event_id=hashlib.blake2b(seed, digest_size=16).hexdigest(),
            aggregate_id=aggregate_id,
            aggregate_type=AGGREGATE_TYPES[field_name],
            sequence=sequence,
            occurred_at=timestamp(occurred_ns),
            producer_session=self._ring_id,
        )

    def _event(
        self,
        aggregate_id: str,
        number: int,
        payload: bytes,
        occurred_ns: int,
        start: int,
        out: list[Encoded],
        state: RingState,
    ) -> None:
        name = _FIELD_NAMES[number]
        env = self._envelope(aggregate_id, name, occurred_ns, start, len(out), state)
        value = env.SerializeToString() + length_delimited(number, payload)
        out.append(Encoded(aggregate_id.encode(), value, 0))

    def _seal(
        self, run_id: str, g: _Gathered, start: int, out: list[Encoded], state: RingState
    ) -> None:
        names = self._names
        try:
            keys = list(map(names.__getitem__, g.keys))
        except KeyError:
            for number in set(g.keys).difference(names):
                names[number] = self._name_of(number)
            keys = list(map(names.__getitem__, g.keys))
        for low, high in self._cuts(keys):
            env = self._envelope(run_id, "metrics_logged", g.occurred_ns, start, len(out), state)
            env.metrics_logged.keys.extend(keys[low:high])
            env.metrics_logged.steps.extend(g.steps[low:high])
            env.metrics_logged.timestamps_ms.extend(g.stamps[low:high])
            env.metrics_logged.values.extend(g.values[low:high])
            out.append(Encoded(run_id.encode(), env.SerializeToString(), high - low))

    def _cuts(self, keys: list[str]) -> list[tuple[int, int]]:
        limits, sizes = self._limits, self._key_bytes
        n, most = len(keys), limits.max_batch_points
        try:
            costs = list(map(sizes.__getitem__, keys))
        except KeyError:
            for key in set(keys).difference(sizes):
                sizes[key] = len(key.encode()) + POINT_OVERHEAD_BYTES
            costs = list(map(sizes.__getitem__, keys))
        if sum(costs) <= limits.max_batch_bytes:
            return [(i, min(i + most, n)) for i in range(0, n, most)]
        cuts, low, size = [], 0, 0
        for i, cost in enumerate(costs):
            if i > low and (i - low >= most or size + cost > limits.max_batch_bytes):
                cuts.append((low, i))
                low, size = i, 0
            size += cost
        cuts.append((low, n))
        return cuts
