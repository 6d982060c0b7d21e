"""Between Decode and Project: refuse events that name an artifact location outside the
allowed roots (ingest/locations.py, TRACKLOG_ARTIFACT_ROOT and TRACKLOG_ARTIFACT_ROOTS), so a
forged event cannot point a run's uploads and downloads anywhere. Refused records are
rejected with the reason (dead-lettered by WritePostgres), like undecodable ones.
With no root configured, or TRACKLOG_ARTIFACT_ROOTS=*, nothing is checked; the worker
says so once at start (a warning).
"""

from __future__ import annotations

import logging

from tracklog.contract.settings import ArtifactRootSettings
from tracklog.ingest.batch import DecodedBatch
from tracklog.ingest.locations import outside_roots_rejected
from tracklog.ingest.steps import Step

log = logging.getLogger(__name__)


class CheckLocations:
    def __init__(self, roots: ArtifactRootSettings, next_step: Step[DecodedBatch]) -> None:
        self._roots = roots
        self._next = next_step
        if roots.checked:
            log.info("artifact locations must lie under %s", ", ".join(roots.allowed()))
        elif roots.any_location:
            log.warning("artifact locations are not checked: TRACKLOG_ARTIFACT_ROOTS is '*'")
        else:
            log.warning(
                "artifact locations are not checked: no root is configured; set"
                " TRACKLOG_ARTIFACT_ROOT (and TRACKLOG_ARTIFACT_ROOTS, the other roots"
                " experiments may name) to refuse locations outside them"
            )

    def submit(self, batch: DecodedBatch) -> None:
        self._next.submit(outside_roots_rejected(batch, self._roots))

    def poll(self) -> None:
        self._next.poll()

    def join(self, timeout: float | None = None) -> None:
        self._next.join(timeout)
