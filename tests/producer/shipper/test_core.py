"""The ring and the shipper core without a broker: what a session hands over comes out
as the envelopes the in-process sender would make, in call order per run, and encoding a
slice again after a shipper was killed makes the same envelopes."""

from __future__ import annotations

import contextlib
from pathlib import Path

from tracklog.events import payloads
from tracklog.sending.batcher import PendingEvent, Points
from tracklog.sending.sink import DoneCallback
from tracklog.shipper.core import ShipperCore
from tracklog.shipper.handover import RingHandover
from tracklog.shipper.ring import Field, rings_dir
from tracklog.v1 import events_pb2 as pb

TARGET = "127.0.0.1:1 topic"


class FakeSpool:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, pb.Envelope, int]] = []
        self.callbacks: list[DoneCallback] = []

    def send_weighed(self, key: bytes, value: bytes, points: int, on_done: DoneCallback) -> None:
        self.sent.append((key, pb.Envelope.FromString(value), points))
        self.callbacks.append(on_done)

    def acked_positions(self) -> dict[tuple[str, int], int]:
        return {("log", 0): len(self.sent) - 1}

    def adopted_pending(self) -> bool:
        return False

    def ack_all(self) -> None:
        callbacks, self.callbacks = self.callbacks, []
        for on_done in callbacks:
            on_done(None)


def handover(spool_dir: Path, **meta: object) -> RingHandover:
    return RingHandover(
        rings_dir(spool_dir),
        {"target": TARGET, "max_batch_points": 3, "max_batch_bytes": 1 << 20, **meta},
        capacity=4 << 20,
        max_block_seconds=1.0,
        max_event_bytes=1 << 20,
    )


def points(keys: list[str], step: int) -> Points:
    n = len(keys)
    return Points(keys, [step] * n, [1000 + step] * n, [0.5 * step] * n, sum(map(len, keys)))


def test_a_sessions_calls_come_out_in_call_order_per_run(tmp_path: Path) -> None:
    ring = handover(tmp_path)
    ring.put("run-a", [PendingEvent("run-a", payloads.params_logged([("lr", "0.1")]), 7)])
    for step in range(4):
        ring.put("run-a", (), points(["loss"], step))
        ring.put("run-b", (), points(["x", "y"], step))
    ring.put("run-a", [PendingEvent("run-a", payloads.tags_set([("t", "1")]), 8)])
    spool = FakeSpool()
    core = ShipperCore(tmp_path, TARGET, spool)
    ring.mark()
    assert core.step()
    by_run: dict[bytes, list[pb.Envelope]] = {}
    for key, env, _ in spool.sent:
        by_run.setdefault(key, []).append(env)
    kinds = [e.WhichOneof("payload") for e in by_run[b"run-a"]]
    assert kinds == ["params_logged", "metrics_logged", "metrics_logged", "tags_set"]
    assert [s for e in by_run[b"run-a"][1:3] for s in e.metrics_logged.steps] == [0, 1, 2, 3]
    assert [e.sequence for e in by_run[b"run-a"]] == [1, 2, 3, 4]
    b = by_run[b"run-b"]
    assert [k for e in b for k in e.metrics_logged.keys] == ["x", "y"] * 4
    assert all(len(e.metrics_logged.keys) <= 3 for e in b)
    assert ring.pending() == (2, 12)
    assert ring.ring.get(Field.ACKED) == 0
    spool.ack_all()
    assert ring.ring.get(Field.ACKED) == ring.mark()
    assert ring.pending() == (0, 0)


def test_a_slice_encoded_again_after_a_kill_makes_the_same_envelopes(tmp_path: Path) -> None:
    ring = handover(tmp_path)
    for step in range(5):
        ring.put("run", (), points(["a", "b"], step))
    ring.mark()
    first = FakeSpool()

    class Killed(Exception):
        pass

    def dies_after_two(key: bytes, value: bytes, points: int, on_done: DoneCallback) -> None:
        if len(first.sent) == 2:
            raise Killed
        FakeSpool.send_weighed(first, key, value, points, on_done)

    first.send_weighed = dies_after_two  # type: ignore[method-assign]
    core = ShipperCore(tmp_path, TARGET, first)
    with contextlib.suppress(Killed):
        core.step()
    core.close()  # the killed shipper's readers go; its lock goes with it
    second = FakeSpool()
    ShipperCore(tmp_path, TARGET, second).step()
    assert [e for _, e, _ in second.sent[:2]] == [e for _, e, _ in first.sent]
    assert sum(p for *_, p in second.sent) == 10


def test_a_ring_is_deleted_once_spooled_and_closed(tmp_path: Path) -> None:
    ring = handover(tmp_path)
    ring.put("run", (), points(["a"], 1))
    spool = FakeSpool()
    core = ShipperCore(tmp_path, TARGET, spool)
    ring.mark()
    core.step()
    ring.close()
    core._scanned_at = 0.0
    core.step()
    assert list(rings_dir(tmp_path).iterdir()) == []
