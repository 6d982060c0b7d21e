"""Lifecycle stages: MLflow's text ("active", "deleted") and the contract's `LifecycleStage`.

The read models and the SDK's entities keep the text; the query service answers with the
enum (tracking.proto). `to_proto` and `from_proto` convert at those two edges.
"""

from __future__ import annotations

from tracklog.v1 import tracking_pb2

ACTIVE = "active"
DELETED = "deleted"
_PROTO = {
    ACTIVE: tracking_pb2.LIFECYCLE_STAGE_ACTIVE,
    DELETED: tracking_pb2.LIFECYCLE_STAGE_DELETED,
}
_TEXT = {number: text for text, number in _PROTO.items()}


def to_proto(stage: str) -> tracking_pb2.LifecycleStage.ValueType:
    """ "active" -> LIFECYCLE_STAGE_ACTIVE; ValueError for anything but the two stages."""
    try:
        return _PROTO[stage]
    except KeyError:
        raise ValueError(f"unknown lifecycle stage {stage!r}") from None


def from_proto(stage: tracking_pb2.LifecycleStage.ValueType) -> str:
    """LIFECYCLE_STAGE_DELETED -> "deleted"; ValueError for UNSPECIFIED (never answered)."""
    try:
        return _TEXT[stage]
    except KeyError:
        raise ValueError(f"unknown lifecycle stage {int(stage)}") from None
