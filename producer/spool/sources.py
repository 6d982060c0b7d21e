"""The logs the spool's shipper sends from: this process's own and adopted ones."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from tracklog.sending.sink import DoneCallback
from tracklog.spool.dirs import ClaimedDirectory
from tracklog.spool.segments import SegmentLog, SpooledRecord
from tracklog.v1 import events_pb2

log = logging.getLogger(__name__)


@dataclass(slots=True)
class InFlight:
    record: SpooledRecord
    acked: bool = False
    alone: bool = False  # sent with nothing else in flight (the shipper was isolating)
    refused: BaseException | None = None  # quarantined: Kafka refused it for good


@dataclass(slots=True)
class Source:
    """One log being shipped, with what is still unacknowledged in it."""

    log: SegmentLog
    claim: ClaimedDirectory
    records: int = 0  # written and not acknowledged
    points: int = 0
    size: int = 0
    callbacks: deque[tuple[DoneCallback, int]] | None = None  # own log: (on_done, points)
    read_pos: tuple[int, int] = (0, 0)
    inflight: deque[InFlight] = field(default_factory=deque)
    counted: bool = True  # False for an adopted log until the shipper thread counted it
    dropped: bool = False  # an adopted log that could not be read: no longer shipped


def give_up_unreadable(source: Source, error: OSError) -> None:
    """Log that an adopted log cannot be read, close it and release its directory, which
    stays on disk for the next process (the caller stopped shipping it)."""
    log.error(
        "tracklog spool: cannot read %s (%s), left by a process that exited: skipping the "
        "%s events in it after its acknowledged prefix; they stay there and the next "
        "Tracklog process using this spool directory tries again",
        source.claim.path,
        error,
        source.records if source.counted else "unknown number of",
    )
    try:
        source.log.close()
    except OSError as close_error:
        log.debug("tracklog spool: closing %s: %s", source.claim.path, close_error)
    source.claim.release(remove=False)


def occurred_at(record: SpooledRecord) -> float | None:
    """When the spooled event happened (Unix seconds, its envelope's ``occurred_at``);
    None when the record is not an envelope or has no time (it is sent as it is)."""
    try:
        envelope = events_pb2.Envelope.FromString(record.value)
    except DecodeError:
        return None
    if not envelope.event_id or envelope.occurred_at.seconds <= 0:
        return None
    return envelope.occurred_at.seconds + envelope.occurred_at.nanos / 1e9
