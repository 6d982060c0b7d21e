"""The background thread that takes batches from the `Batcher`, encodes them as
envelopes numbered in one producer session (tracklog.contract.envelopes: one session per
sender, items handed over in the order they are numbered), and hands them to an `EventSink`,
keeping count of what the broker has acknowledged (for `flush`).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import cast

from tracklog.contract.envelopes import ProducerSession
from tracklog.contract.ids import new_event_id
from tracklog.events import payloads as events
from tracklog.sending.batcher import Batcher, Item, PointChunk
from tracklog.sending.sink import EventSink, ReportsPositions, WeighsEvents

log = logging.getLogger(__name__)


def encode(item: Item, session: ProducerSession) -> tuple[str, bytes]:
    """(Kafka key, serialized Envelope) of one queued item, the next of its aggregate in
    ``session``."""
    if isinstance(item, PointChunk):
        aggregate_id, occurred_ns = item.run_id, item.occurred_ns
        payload: events.Payload = events.metrics_logged(
            item.keys, item.steps, item.timestamps_ms, item.values
        )
    else:
        aggregate_id, occurred_ns, payload = item.aggregate_id, item.occurred_ns, item.payload
    env = session.envelope(
        event_id=new_event_id(),
        aggregate_id=aggregate_id,
        occurred_ns=occurred_ns,
        payload=payload,
    )
    return aggregate_id, env.SerializeToString()


class Sender:
    def __init__(
        self,
        batcher: Batcher,
        sink_factory: Callable[[], EventSink],
        *,
        linger_seconds: float = 0.05,
        retry_backoff_seconds: float = 0.5,
    ) -> None:
        self._batcher = batcher
        self._sink_factory = sink_factory
        self._sink: EventSink | None = None
        self._weighs = False  # the sink takes each event's metric point count (the spool)
        self._linger = linger_seconds
        self._backoff = retry_backoff_seconds
        self._session = ProducerSession()
        self._acks = threading.Condition()
        self._sent_through = 0  # serial of the last item handed to the sink
        self._unacked: dict[int, int] = {}  # serial -> metric points (0 for an event)
        self.failed = 0  # messages the sink reported lost after its own retries
        self._abandon = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tracklog-sender", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (taken := self._batcher.take(self._linger)) is not None:
            first, items = taken
            for offset, item in enumerate(items):
                if not self._send(first + offset, item):
                    return  # abandoned at close; what is left stays counted as pending
                self._batcher.release(item)

    def _send(self, serial: int, item: Item) -> bool:
        key, value = encode(item, self._session)
        weight = len(item.keys) if isinstance(item, PointChunk) else 0
        with self._acks:
            self._unacked[serial] = weight
        sent = False
        while not sent and not self._abandon.is_set():
            try:
                if self._sink is None:
                    self._sink = self._sink_factory()
                    self._weighs = isinstance(self._sink, WeighsEvents)
                on_done = functools.partial(self._done, serial)
                if self._weighs:
                    weighed = cast(WeighsEvents, self._sink)
                    weighed.send_weighed(key.encode(), value, weight, on_done)
                else:
                    self._sink.send(key.encode(), value, on_done)
                sent = True
            except Exception as error:
                log.warning("tracklog: cannot hand an event to Kafka yet (%s); retrying", error)
                self._abandon.wait(self._backoff)
        with self._acks:
            if sent:
                self._sent_through = serial
            else:  # abandoned at close: the batcher still counts it as pending
                self._unacked.pop(serial, None)
            self._acks.notify_all()
        return sent

    def _done(self, serial: int, error: BaseException | None) -> None:
        with self._acks:
            points = self._unacked.pop(serial, 0)
            if error is not None:
                self.failed += 1
                log.error("tracklog: an event (%d metric points) was lost: %s", points, error)
            self._acks.notify_all()

    def wait_acked(self, serial: int, timeout: float | None) -> bool:
        """Wait until every item up to ``serial`` was handed over and acknowledged."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._acks:
            failed_before = self.failed
            while self._sent_through < serial or any(s <= serial for s in self._unacked):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._acks.wait(remaining)
            return self.failed == failed_before

    def positions(self) -> dict[tuple[str, int], int]:
        """What the sink reports as acknowledged per (log, partition); {} if it cannot tell."""
        sink = self._sink
        return sink.acked_positions() if isinstance(sink, ReportsPositions) else {}

    def unacked(self) -> tuple[int, int]:
        """(non-metric events, metric points) handed to the sink but not acknowledged."""
        with self._acks:  # an item still being handed over counts as pending in the batcher
            handed = [points for s, points in self._unacked.items() if s <= self._sent_through]
            return sum(1 for points in handed if points == 0), sum(handed)

    def stop(self, timeout: float) -> None:
        """Stop after the batcher (closed by the caller) is drained, or give up at the deadline."""
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        self._abandon.set()
        self._thread.join(1.0)
        if self._sink is not None:
            self._sink.close(max(0.0, deadline - time.monotonic()))
