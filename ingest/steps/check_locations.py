"""Between Decode and Project: refuse events that name an artifact location outside the
allowed roots (ingest/decode/tracking.py `check_locations`, TRACKLOG_ARTIFACT_ROOTS), so a
forged event cannot point a run's uploads and downloads anywhere. Refused records are
rejected with the reason (dead-lettered by WritePostgres), like undecodable ones.
Without TRACKLOG_ARTIFACT_ROOTS nothing is checked; the worker says so once at start.
"""

from __future__ import annotations

import logging

from tracklog.contract.settings import ArtifactRootSettings
from tracklog.ingest.batch import DecodedBatch, Rejected
from tracklog.ingest.decode.tracking import InvalidTrackingEvent, check_locations
from tracklog.ingest.steps import Step
from tracklog.v1 import events_pb2 as pb

log = logging.getLogger(__name__)


class CheckLocations:
    def __init__(self, roots: ArtifactRootSettings, next_step: Step[DecodedBatch]) -> None:
        self._allowed = roots.allowed()
        self._checked = roots.checked
        self._next = next_step
        if self._checked:
            log.info("artifact locations must lie under %s", ", ".join(self._allowed))
        else:
            log.warning(
                "artifact locations are not checked: set TRACKLOG_ARTIFACT_ROOTS (the roots"
                " experiments may name, besides TRACKLOG_ARTIFACT_ROOT) to refuse others"
            )

    def submit(self, batch: DecodedBatch) -> None:
        self._next.submit(self.checked(batch) if self._checked else batch)

    def checked(self, batch: DecodedBatch) -> DecodedBatch:
        """The batch with the envelopes naming a location outside the roots rejected."""
        envelopes: list[pb.Envelope | None] = []
        rejected = list(batch.rejected)
        for record, envelope in zip(batch.records, batch.envelopes, strict=True):
            if envelope is not None:
                try:
                    check_locations(envelope, self._allowed)
                except InvalidTrackingEvent as exc:
                    kind = envelope.WhichOneof("payload")
                    rejected.append(Rejected(record, f"invalid {kind}: {exc}"))
                    envelope = None
            envelopes.append(envelope)
        rejected.sort(key=lambda r: r.record.position)  # log order, as Decode leaves them
        return DecodedBatch(batch.records, tuple(envelopes), tuple(rejected))

    def poll(self) -> None:
        self._next.poll()

    def join(self, timeout: float | None = None) -> None:
        self._next.join(timeout)
