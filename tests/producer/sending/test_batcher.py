from __future__ import annotations

import threading
import time

import pytest

from tracklog.events import payloads as events
from tracklog.sending.batcher import (
    Batcher,
    BufferFullError,
    Item,
    PendingEvent,
    PointChunk,
    Points,
)


def pts(n: int, key: str = "loss", start: int = 0) -> Points:
    return Points(
        [key] * n,
        list(range(start, start + n)),
        [0] * n,
        [float(i) for i in range(n)],
        n * len(key.encode()),
    )


def tag(run_id: str) -> PendingEvent:
    return PendingEvent(run_id, events.tags_set([("k", "v")]), 0)


def drain(batcher: Batcher) -> list[Item]:
    batcher.mark()
    taken = batcher.take(0)
    assert taken is not None
    for item in taken[1]:
        batcher.release(item)
    return taken[1]


def test_points_before_a_later_event_of_the_same_run() -> None:
    b = Batcher()
    b.put("r1", points=pts(3))
    b.put("r2", points=pts(2))
    b.put("r1", [tag("r1")])
    b.put("r1", points=pts(1, start=3))
    items = drain(b)
    r1 = [i for i in items if (i.run_id if isinstance(i, PointChunk) else i.aggregate_id) == "r1"]
    assert [type(i).__name__ for i in r1] == ["PointChunk", "PendingEvent", "PointChunk"]
    assert isinstance(r1[0], PointChunk) and r1[0].steps == [0, 1, 2]
    assert isinstance(r1[2], PointChunk) and r1[2].steps == [3]
    assert b.pending() == (0, 0)


def test_chunks_hold_at_most_max_batch_points() -> None:
    b = Batcher(max_batch_points=4)
    b.put("r", points=pts(10))
    chunks = drain(b)
    assert [len(c.keys) for c in chunks if isinstance(c, PointChunk)] == [4, 4, 2]
    steps = [s for c in chunks if isinstance(c, PointChunk) for s in c.steps]
    assert steps == list(range(10))


def test_chunks_are_cut_by_size_too() -> None:
    b = Batcher(max_batch_bytes=1000)
    key = "k" * 200
    b.put("r", points=pts(12, key=key))
    sizes = [len(c.keys) for c in drain(b) if isinstance(c, PointChunk)]
    assert sum(sizes) == 12 and max(sizes) * (200 + 32) <= 1000


def test_a_full_chunk_wakes_the_sender_and_young_buffers_wait_for_linger() -> None:
    b = Batcher(max_batch_points=5)
    b.put("young", points=pts(2))
    b.put("full", points=pts(5))
    taken = b.take(10.0)  # returns at once: a chunk is full
    assert taken is not None
    assert [i.run_id for i in taken[1] if isinstance(i, PointChunk)] == ["full"]


def test_full_buffer_raises_after_max_block_naming_what_is_pending() -> None:
    b = Batcher(max_buffered_points=10, max_buffered_events=2, max_block_seconds=0.2)
    b.put("r", points=pts(8))
    started = time.monotonic()
    with pytest.raises(BufferFullError, match="8 metric points"):
        b.put("r", points=pts(3))
    assert time.monotonic() - started >= 0.2
    b.put("r", [tag("r"), tag("r")])
    with pytest.raises(BufferFullError, match="2 events"):
        b.put("r", [tag("r")])
    assert b.pending() == (2, 8)  # the refused calls queued nothing


def test_waiting_call_proceeds_when_the_sender_makes_room() -> None:
    b = Batcher(max_buffered_points=10, max_block_seconds=5)
    b.put("r", points=pts(8))

    def sender() -> None:
        taken = b.take(5)
        assert taken is not None
        for item in taken[1]:
            b.release(item)

    thread = threading.Thread(target=sender)
    thread.start()
    b.put("r", points=pts(3))  # blocks until the sender released the first 8
    thread.join()
    assert b.pending() == (0, 3)


def test_a_call_larger_than_the_bound_fits_only_an_empty_buffer() -> None:
    b = Batcher(max_buffered_points=5, max_block_seconds=0.05)
    b.put("r", points=pts(7))
    with pytest.raises(BufferFullError):
        b.put("r", points=pts(1))


def test_closed_batcher_refuses_calls_and_take_ends() -> None:
    b = Batcher()
    b.put("r", points=pts(1))
    b.close()
    with pytest.raises(RuntimeError, match="closed"):
        b.put("r", points=pts(1))
    taken = b.take(0)
    assert taken is not None and len(taken[1]) == 1
    assert b.take(0) is None


def _calls(b: Batcher, one_point: bool) -> None:
    """The same calls through `put_point` or `put` of one-point `Points`."""
    for step in range(11):
        for run, key in (("r1", "loss"), ("r2", "accuracy/top-1"), ("r1", "é")):
            size = len(key.encode())
            if one_point:
                b.put_point(run, key, step, 1000 + step, step / 3, size)
            else:
                b.put(run, points=Points([key], [step], [1000 + step], [step / 3], size))
        if step == 6:
            b.put("r1", [tag("r1")])


def _shape(items: list[Item]) -> list[tuple[object, ...]]:
    return [
        (i.run_id, i.keys, i.steps, i.timestamps_ms, i.values)
        if isinstance(i, PointChunk)
        else (i.aggregate_id, i.payload.SerializeToString())
        for i in items
    ]


def test_put_point_makes_the_chunks_of_put_with_one_point() -> None:
    made = []
    for one_point in (True, False):
        b = Batcher(max_batch_points=4, max_batch_bytes=40)
        _calls(b, one_point)
        assert b.pending() == (1, 33)
        made.append(_shape(drain(b)))
    assert made[0] == made[1]
    assert len(made[0]) > 10  # sealed by points, by bytes and by the event


def test_put_point_waits_for_room_then_refuses_and_queues_nothing() -> None:
    b = Batcher(max_buffered_points=2, max_block_seconds=0.05)
    b.put_point("r", "loss", 0, 0, 0.0, 4)
    b.put_point("r", "loss", 1, 0, 0.0, 4)
    with pytest.raises(BufferFullError):
        b.put_point("r", "loss", 2, 0, 0.0, 4)
    assert b.pending() == (0, 2)
    assert [c.steps for c in drain(b) if isinstance(c, PointChunk)] == [[0, 1]]
    b.put_point("r", "loss", 2, 0, 0.0, 4)
    b.close()
    with pytest.raises(RuntimeError):
        b.put_point("r", "loss", 3, 0, 0.0, 4)
