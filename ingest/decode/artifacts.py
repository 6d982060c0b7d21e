"""Step 1 for ArtifactLogged: the rules its payload must satisfy. Pure.

`decode.validate` checks the aggregate type (a run) and turns
`InvalidArtifactEvent` into `InvalidEvent`.
"""

from __future__ import annotations

import re

from tracklog.contract.locations import safe_artifact_path
from tracklog.v1 import events_pb2 as pb

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class InvalidArtifactEvent(ValueError):
    """An ArtifactLogged event that breaks a rule; the message says which."""


def _artifact_logged(envelope: pb.Envelope) -> None:
    event = envelope.artifact_logged
    try:
        path = safe_artifact_path(event.path, allow_root=False)
    except ValueError as exc:
        raise InvalidArtifactEvent(str(exc)) from exc
    if path != event.path:
        raise InvalidArtifactEvent(f"artifact path {event.path!r} is not normalized ({path!r})")
    if event.size < 0:
        raise InvalidArtifactEvent(f"negative size {event.size}")
    if not _SHA256.match(event.digest):
        raise InvalidArtifactEvent(f"digest {event.digest!r} is not a lowercase hex SHA-256")
    if not envelope.HasField("occurred_at"):
        raise InvalidArtifactEvent("artifact_logged needs occurred_at (the time it was logged)")


VALIDATORS = {"artifact_logged": _artifact_logged}
