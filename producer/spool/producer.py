"""How the spool's shipper lets a Kafka producer go: gracefully, or abandoned."""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from tracklog.sending.sink import EventSink, ReportsPositions

log = logging.getLogger(__name__)

Positions = dict[tuple[str, int], int]


@runtime_checkable
class Abandons(Protocol):
    def abandon(self) -> None:
        """Close at once: what is not acknowledged yet fails and is not sent."""


def abandon(sink: EventSink) -> None:
    """Abandon ``sink`` if it can be (else close it without waiting); never raises."""
    try:
        if isinstance(sink, Abandons):
            sink.abandon()
        else:
            sink.close(0.0)
    except Exception as error:  # harmless: what it did not deliver stays in the spool
        log.info("tracklog spool: abandoning the Kafka producer failed: %s", error)


def let_go(sink: EventSink, timeout: float, *, graceful: bool) -> Positions:
    """Close ``sink``: ``graceful`` lets it deliver what it holds within ``timeout`` (then
    abandons it); otherwise it is abandoned at once, so nothing it still queues is sent
    after an earlier send failed. Returns the positions it had acknowledged."""
    if graceful:
        try:
            sink.close(timeout)
        except Exception as error:  # kafka-python: a flush that timed out; nothing closed
            log.info("tracklog spool: closing the Kafka producer failed: %s", error)
            abandon(sink)
    else:
        abandon(sink)
    if not isinstance(sink, ReportsPositions):
        return {}
    try:  # after closing: acknowledgements of the flush count
        return sink.acked_positions()
    except Exception as error:  # no metadata: nothing was acknowledged
        log.debug("tracklog spool: no positions from the old producer: %s", error)
        return {}
