"""`ShipperClient`: a Session's link to the shipper process of its spool directory.

It opens the session's ring (`RingHandover`, the session's batcher), makes sure a shipper
runs (starting one if none does, again if it dies: a keeper thread checks every half
second), waits for acknowledgements in `flush` (reading the ring's header) and detaches
the ring at `close`. When no shipper process comes up within TRACKLOG_SHIPPER_START_SECONDS
(default 5), it logs a warning and reads its ring on a thread of this process instead
(`ShipperCore` over a `SpoolingSink` of its own): the in-process fallback.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tracklog.contract.flush_tokens import FlushToken, encode
from tracklog.sending.sink import EventSink
from tracklog.shipper import launch
from tracklog.shipper.core import ShipperCore, run_until
from tracklog.shipper.handover import RingHandover
from tracklog.shipper.ring import HEADER_BYTES, Field, rings_dir
from tracklog.spool.spooling_sink import SpoolingSink

log = logging.getLogger(__name__)

KEEP_SECONDS = 0.5
RESTART_SECONDS = 2.0  # at most one start per this


class ShipperClient:
    def __init__(
        self,
        config: launch.ShipperConfig,
        *,
        target: str,
        sink_factory: Callable[[], EventSink],
        max_batch_points: int,
        max_batch_bytes: int,
        max_event_bytes: int,
        max_block_seconds: float,
        linger_seconds: float,
        ring_bytes: int,
    ) -> None:
        directory = config.spool.directory
        assert directory is not None
        self.spool_dir = directory
        self._config = config
        self._target = target
        self._sink_factory = sink_factory  # for the in-process fallback
        self._start_seconds = float(os.environ.get("TRACKLOG_SHIPPER_START_SECONDS", "5"))
        self._started_at = 0.0
        self._down_since: float | None = None
        self._fallback: tuple[ShipperCore, SpoolingSink, threading.Thread] | None = None
        self._last_positions: dict[tuple[str, int], int] = {}
        self._ensure()
        meta = {
            "target": target,
            "max_batch_points": max_batch_points,
            "max_batch_bytes": max_batch_bytes,
            "linger_seconds": linger_seconds,
        }
        self.handover = RingHandover(
            rings_dir(directory),
            meta,
            capacity=ring_bytes,
            max_block_seconds=max_block_seconds,
            max_event_bytes=max_event_bytes,
            on_wait=self._ensure,
        )
        self._stop = threading.Event()
        self._keeper = threading.Thread(target=self._keep, name="tracklog-keeper", daemon=True)
        self._keeper.start()

    # the shipper's life

    def _ensure(self) -> None:
        """Start a shipper when none runs (at most every RESTART_SECONDS); past
        TRACKLOG_SHIPPER_START_SECONDS without one, read the ring in this process."""
        if self._fallback is not None or launch.running(self.spool_dir):
            self._down_since = None
            return
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
        if now - self._down_since >= self._start_seconds and hasattr(self, "handover"):
            self._fall_back()
        elif now - self._started_at >= RESTART_SECONDS:
            self._started_at = now
            try:
                launch.start(self._config)
            except OSError as error:
                log.warning("tracklog: cannot start the shipper process: %s", error)

    def _keep(self) -> None:
        while not self._stop.wait(KEEP_SECONDS):
            try:
                self._ensure()
            except Exception as error:  # keep checking
                log.warning("tracklog: checking the shipper process: %s", error)

    def _fall_back(self) -> None:
        log.warning(
            "tracklog: no shipper process came up for %s within %ss "
            "(TRACKLOG_SHIPPER_START_SECONDS; see %s): sending from this process instead",
            self.spool_dir,
            self._start_seconds,
            self.spool_dir / launch.LOG_FILE,
        )
        spool = SpoolingSink(self._config.spool, self._sink_factory, self._target)
        core = ShipperCore(self.spool_dir, self._target, spool, only=self.handover.ring_id)
        thread = threading.Thread(
            target=run_until, args=(core, self._stop.is_set), name="tracklog-ring", daemon=True
        )
        self._fallback = (core, spool, thread)
        thread.start()

    # flush and close

    def wait_acked(self, timeout: float | None) -> bool:
        """Wait until everything handed over so far is acknowledged by Kafka, with no
        event lost meanwhile."""
        handover = self.handover
        through = handover.mark()
        if handover.closed:
            return handover.pending() == (0, 0)
        ring = handover.ring
        failed = ring.get(Field.FAILED)
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.0002
        checked = time.monotonic()
        while ring.get(Field.ACKED) < through:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False
            if now - checked >= KEEP_SECONDS:
                checked = now
                self._ensure()
            time.sleep(pause if deadline is None else min(pause, max(0.0, deadline - now)))
            pause = min(pause * 2, 0.005)
        return ring.get(Field.FAILED) == failed

    def token(self, ok: bool) -> FlushToken:
        """The flush token of what the shipper reported acknowledged."""
        return FlushToken(encode(self.positions()), ok)

    def positions(self) -> dict[tuple[str, int], int]:
        if self.handover.closed:
            return self._last_positions
        ring = self.handover.ring
        for _ in range(100):
            version = ring.get(Field.POSITIONS_VERSION)
            if version % 2:
                time.sleep(0.0001)
                continue
            length = ring.get(Field.POSITIONS_LENGTH)
            if Field.POSITIONS + length > HEADER_BYTES:
                return {}
            data = bytes(ring.map[Field.POSITIONS : Field.POSITIONS + length])
            if ring.get(Field.POSITIONS_VERSION) == version:
                found = json.loads(data) if data else []
                self._last_positions = {(str(a), int(b)): int(c) for a, b, c in found}
                return self._last_positions
        return {}

    def close(self, timeout: float) -> tuple[int, int]:
        """Wait up to ``timeout`` for Kafka to acknowledge everything, then detach the
        ring; returns the (events, metric points) the shipper still has to send."""
        deadline = time.monotonic() + timeout
        if not self.handover.closed:
            self.wait_acked(timeout)
            self.positions()
        self.handover.close()
        self._stop.set()
        fallback = self._fallback
        if fallback is not None:
            core, spool, thread = fallback
            thread.join(max(0.0, deadline - time.monotonic()))
            core.close()
            spool.close(max(0.0, deadline - time.monotonic()))
        events, points = self.handover.pending()
        if events or points:
            log.warning(
                "tracklog: %d events (%d metric points) are pending in the spool at %s; the "
                "shipper process keeps sending them, and the next Tracklog process using "
                "this spool directory sends what it leaves",
                events,
                points,
                self.spool_dir,
            )
        return events, points

    def spool_view(self) -> ShippedSpool:
        return ShippedSpool(self)


class ShippedSpool:
    """`Session.spool` in shipper mode: what this session handed over and is not yet
    acknowledged (the shipper process itself reports drops and quarantines in its log)."""

    def __init__(self, client: ShipperClient) -> None:
        self._client = client
        self.directory: Path = client.spool_dir
        self.dropped = (0, 0)
        self.quarantined = (0, 0)

    def pending(self) -> tuple[int, int]:
        return self._client.handover.pending()
