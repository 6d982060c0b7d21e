"""Step 1: decode a polled batch's records (`decode_batch`, pure); invalid ones are
rejected with the reason, to be dead-lettered by WritePostgres; so are records on a topic
that may not carry them (ingest/decode/authority.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from tracklog.ingest.batch import DecodedBatch, decode_batch
from tracklog.ingest.decode.authority import TopicAuthority
from tracklog.ingest.records import Record
from tracklog.ingest.steps import Step
from tracklog.ingest.steps.tally import Tally


class Decode:
    """``authority`` says which topic may carry which events (None: any topic)."""

    def __init__(
        self,
        max_event_bytes: int | None,
        tally: Tally,
        next_step: Step[DecodedBatch],
        *,
        authority: TopicAuthority | None = None,
    ) -> None:
        self._max_event_bytes = max_event_bytes
        self._tally = tally
        self._next = next_step
        self.authority = authority

    def submit(self, batch: Sequence[Record]) -> None:
        started = time.perf_counter()
        decoded = decode_batch(batch, self._max_event_bytes, self.authority)
        self._tally.projected(time.perf_counter() - started)
        self._next.submit(decoded)

    def poll(self) -> None:
        self._next.poll()

    def join(self, timeout: float | None = None) -> None:
        self._next.join(timeout)
