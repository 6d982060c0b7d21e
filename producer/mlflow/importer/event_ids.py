"""Deterministic event ids: the same MLflow entity always yields the same ids.

An id is uuid5 of the Tracklog aggregate (experiment or run id) and a label naming the
event's place in the import ("run_started", "metrics/loss/0+5000", ...), plus a digest
of the content for events whose content may change between two imports of a live store
(tags, params, status). The worker skips an event id it already applied, so importing
the same source twice adds nothing, and a changed run adds only what changed.
"""

from __future__ import annotations

import hashlib
import uuid

IMPORT_NAMESPACE = uuid.UUID("0b6f7c52-3a51-5d8e-8d3c-6d6c666c6f77")


def event_id(aggregate_id: str, label: str) -> str:
    """The id of the event at ``label`` of ``aggregate_id`` (32 hex digits)."""
    return uuid.uuid5(IMPORT_NAMESPACE, f"{aggregate_id}\x00{label}").hex


def content_label(label: str, content: bytes) -> str:
    """``label`` qualified by a short digest of ``content``."""
    return f"{label}#{hashlib.sha256(content).hexdigest()[:16]}"
