"""`ShipperClient`: a Session's link to the shipper process of its spool directory.

It opens the session's ring (`RingHandover`, the session's batcher), makes sure a shipper
runs (starting one if none does, again if it dies: a keeper thread checks every half
second), waits for acknowledgements in `flush` (reading the ring's header) and detaches
the ring at `close`. The keeper thread also logs here what the shipper process said about
the ring (`tracklog.shipper.notices`: the broker unreachable, the spool full...), and
`ShippedSpool` reports the ring's dropped and quarantined events from its header. When no
shipper process comes up within TRACKLOG_SHIPPER_START_SECONDS (default 5), or the one
running serves other settings, it logs a warning and reads its ring on a thread of this
process instead (`ShipperCore` over a `SpoolingSink` of its own): the in-process fallback.
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
from tracklog.shipper.notices import NoticeReader
from tracklog.shipper.ring import HEADER_BYTES, Field, rings_dir
from tracklog.spool.quarantine import Quarantine
from tracklog.spool.spooling_sink import SpoolingSink, report_losses

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
        self._fingerprint = config.fingerprint()
        self._other_settings_seen = 0  # checks in a row that found a shipper of others
        self._final_counts: dict[Field, int] = {}
        self._ensure()
        meta = {
            "target": target,
            "fingerprint": self._fingerprint,
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
        self._notices = NoticeReader(self.handover.ring.path.with_suffix(".notices"))
        self._stop = threading.Event()
        self._keeper = threading.Thread(target=self._keep, name="tracklog-keeper", daemon=True)
        self._keeper.start()

    # the shipper's life

    def _ensure(self) -> None:
        """Start a shipper when none runs (at most every RESTART_SECONDS); past
        TRACKLOG_SHIPPER_START_SECONDS without one, read the ring in this process."""
        if self._fallback is not None:
            return
        if launch.running(self.spool_dir):
            self._down_since = None
            theirs = launch.running_fingerprint(self.spool_dir)
            if theirs in (None, self._fingerprint):
                self._other_settings_seen = 0
                return
            self._other_settings_seen += 1  # twice in a row: not a stale shipper.json
            if self._other_settings_seen >= 2 and hasattr(self, "handover"):
                self._fall_back(
                    "the shipper process of %s serves other Kafka or spool settings "
                    "(set TRACKLOG_SPOOL_DIR to a directory of its own)",
                    self.spool_dir,
                )
            return
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
        if now - self._down_since >= self._start_seconds and hasattr(self, "handover"):
            self._fall_back(
                "no shipper process came up for %s within %ss "
                "(TRACKLOG_SHIPPER_START_SECONDS; see %s)",
                self.spool_dir,
                self._start_seconds,
                self.spool_dir / launch.LOG_FILE,
            )
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
                self._notices.relay()
                self.handover.prepare_ahead()
            except Exception as error:  # keep checking
                log.warning("tracklog: checking the shipper process: %s", error)

    def _fall_back(self, reason: str, *args: object) -> None:
        log.warning(f"tracklog: {reason}: sending from this process instead", *args)
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
        self._notices.relay()
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
            if not self.wait_acked(timeout):
                self._notices.relay()  # what kept it from being acknowledged
            self.positions()
            self._final_counts = {field: self.handover.ring.get(field) for field in _COUNTS}
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
        self._report_losses()
        return events, points

    def count(self, field: Field) -> int:
        """A counter of the ring's header (its last value once the ring is detached)."""
        if self.handover.closed:
            return self._final_counts.get(field, 0)
        return self.handover.ring.get(field)

    def _report_losses(self) -> None:
        """What the spool quarantined or dropped of this session, as the spool says at its
        close in-process."""
        report_losses(
            (self.count(Field.QUARANTINED_EVENTS), self.count(Field.QUARANTINED_POINTS)),
            Quarantine(self.spool_dir, self._target).directory,
            (self.count(Field.DROPPED_EVENTS), self.count(Field.DROPPED_POINTS)),
            self.spool_dir,
            self._config.spool.max_bytes,
        )

    def spool_view(self) -> ShippedSpool:
        return ShippedSpool(self)


_COUNTS = (
    Field.DROPPED_EVENTS,
    Field.DROPPED_POINTS,
    Field.QUARANTINED_EVENTS,
    Field.QUARANTINED_POINTS,
)


class ShippedSpool:
    """`Session.spool` in shipper mode: what this session handed over and is not yet
    acknowledged, and what of it the shipper process dropped (the spool full) or moved
    to the quarantine, as the ring's header says."""

    def __init__(self, client: ShipperClient) -> None:
        self._client = client
        self.directory: Path = client.spool_dir
        self.quarantine_directory: Path = Quarantine(client.spool_dir, "").directory

    @property
    def dropped(self) -> tuple[int, int]:
        """(events, metric points) dropped because the spool was full."""
        client = self._client
        return client.count(Field.DROPPED_EVENTS), client.count(Field.DROPPED_POINTS)

    @property
    def quarantined(self) -> tuple[int, int]:
        """(events, metric points) Kafka refused for good, kept in the quarantine."""
        client = self._client
        return client.count(Field.QUARANTINED_EVENTS), client.count(Field.QUARANTINED_POINTS)

    def pending(self) -> tuple[int, int]:
        return self._client.handover.pending()
