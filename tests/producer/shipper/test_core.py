"""The ring and the shipper core without a broker: what a session hands over comes out
as the envelopes the in-process sender would make, in call order per run, and encoding a
slice again after a shipper was killed makes the same envelopes."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tracklog.events import payloads
from tracklog.sending.batcher import PendingEvent, Points
from tracklog.sending.sink import DoneCallback
from tracklog.shipper import slices
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


def handover(spool_dir: Path, capacity: int = 4 << 20, **meta: object) -> RingHandover:
    return RingHandover(
        rings_dir(spool_dir),
        {"target": TARGET, "max_batch_points": 3, "max_batch_bytes": 1 << 20, **meta},
        capacity=capacity,
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


def _content(spool: FakeSpool) -> list[tuple[bytes, str, bytes]]:
    """What the envelopes say, less what names the ring or the time (event id, session)."""
    out = []
    for key, env, _ in spool.sent:
        kind = env.WhichOneof("payload")
        out.append((key, f"{env.aggregate_id} {env.sequence} {kind}", _payload(env, kind)))
    return out


def _payload(env: pb.Envelope, kind: str | None) -> bytes:
    payload = getattr(env, kind or "")
    data: bytes = payload.SerializeToString()
    return data


def _log(ring: RingHandover, one_point: bool) -> None:
    """log_metric and log_metrics calls of two runs, some in long same-shaped stretches."""
    keys = [f"layer{i}/grad" for i in range(10)]
    for step in range(40):
        for run, key in (("run-a", "loss"), ("run-a", "loss"), ("run-b", "é")):
            size = len(key.encode())
            if one_point:
                ring.put_point(run, key, step, 1000 + step, step / 7, size)
            else:
                ring.put(run, (), Points([key], [step], [1000 + step], [step / 7], size))
        if step % 13 == 0:
            ring.put("run-a", [PendingEvent("run-a", payloads.tags_set([("t", str(step))]), 8)])
    for step in range(30):
        ring.put("run-b", (), points(keys, step))
    for step in range(20):
        ring.put("run-a", (), points(keys[: 1 + step % 3], step))


def _shipped(spool_dir: Path, one_point: bool) -> FakeSpool:
    ring = handover(spool_dir)
    _log(ring, one_point)
    ring.mark()
    spool = FakeSpool()
    ShipperCore(spool_dir, TARGET, spool).step()
    assert sum(p for *_, p in spool.sent) == 40 * 3 + 30 * 10 + 39
    return spool


def test_put_point_hands_over_what_put_of_one_point_does(tmp_path: Path) -> None:
    by_point = _shipped(tmp_path / "point", True)
    by_put = _shipped(tmp_path / "put", False)
    assert _content(by_point) == _content(by_put)


def test_records_read_in_blocks_make_what_reading_one_by_one_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_blocks = _shipped(tmp_path / "blocks", True)
    monkeypatch.setattr(slices, "_PEEK", 1 << 40)  # never a block
    one_by_one = _shipped(tmp_path / "one", True)
    assert _content(in_blocks) == _content(one_by_one)


def test_points_written_across_the_end_of_the_ring_come_out_in_order(tmp_path: Path) -> None:
    ring = handover(tmp_path, capacity=64 * 1024)
    spool = FakeSpool()
    core = ShipperCore(tmp_path, TARGET, spool, slice_bytes=256 * 1024)
    for rounds in range(3):  # 48-byte records: the second round wraps
        for step in range(1000 * rounds, 1000 * rounds + 1000):
            ring.put_point("run", "loss", step, step, step / 2, 4)
        ring.mark()
        assert core.step()
    steps = [s for _, env, _ in spool.sent for s in env.metrics_logged.steps]
    assert steps == list(range(3000))
    assert [v for _, env, _ in spool.sent for v in env.metrics_logged.values][-1] == 2999 / 2


def test_a_large_call_is_written_column_by_column(tmp_path: Path) -> None:
    ring = handover(tmp_path)
    n = 1000
    keys = [f"k{i % 300}" for i in range(n)]
    ring.put(
        "run",
        (),
        Points(keys, list(range(n)), [7] * n, [i / 4 for i in range(n)], sum(map(len, keys))),
    )
    ring.mark()
    spool = FakeSpool()
    ShipperCore(tmp_path, TARGET, spool).step()
    logged = [env.metrics_logged for _, env, _ in spool.sent]
    assert [k for m in logged for k in m.keys] == keys
    assert [s for m in logged for s in m.steps] == list(range(n))
    assert [v for m in logged for v in m.values] == [i / 4 for i in range(n)]
