"""Model version stages (MLflow's four, parsed case-insensitively) and statuses."""

from __future__ import annotations

from collections.abc import Iterable

from tracklog.registry.errors import InvalidArgument
from tracklog.v1 import events_pb2 as pb

NONE, STAGING, PRODUCTION, ARCHIVED = "None", "Staging", "Production", "Archived"
STAGES: tuple[str, ...] = (NONE, STAGING, PRODUCTION, ARCHIVED)
# Stages archive_existing_versions may be used with (as MLflow).
ACTIVE_STAGES: tuple[str, ...] = (STAGING, PRODUCTION)

_TO_PROTO: dict[str, pb.ModelVersionStage.ValueType] = {
    NONE: pb.MODEL_VERSION_STAGE_NONE,
    STAGING: pb.MODEL_VERSION_STAGE_STAGING,
    PRODUCTION: pb.MODEL_VERSION_STAGE_PRODUCTION,
    ARCHIVED: pb.MODEL_VERSION_STAGE_ARCHIVED,
}
_FROM_PROTO = {number: name for name, number in _TO_PROTO.items()}

PENDING, READY, FAILED = "PENDING_REGISTRATION", "READY", "FAILED_REGISTRATION"
_STATUS_TO_PROTO: dict[str, pb.ModelVersionStatus.ValueType] = {
    PENDING: pb.MODEL_VERSION_STATUS_PENDING_REGISTRATION,
    READY: pb.MODEL_VERSION_STATUS_READY,
    FAILED: pb.MODEL_VERSION_STATUS_FAILED_REGISTRATION,
}
_STATUS_FROM_PROTO = {number: name for name, number in _STATUS_TO_PROTO.items()}


def parse_stage(text: str) -> str:
    """'production' -> 'Production'; InvalidArgument naming the stage otherwise."""
    for stage in STAGES:
        if text.strip().lower() == stage.lower():
            return stage
    raise InvalidArgument(f"invalid stage {text!r}: expected one of {', '.join(STAGES)}")


def parse_stages(texts: Iterable[str]) -> tuple[str, ...]:
    """Several stages, deduplicated in order; all of them when none are given."""
    parsed = tuple(dict.fromkeys(parse_stage(t) for t in texts))
    return parsed or STAGES


def stage_to_proto(stage: str) -> pb.ModelVersionStage.ValueType:
    return _TO_PROTO[parse_stage(stage)]


def stage_from_proto(number: int) -> str:
    """The stage name of an enum number; InvalidArgument for unspecified or unknown."""
    try:
        return _FROM_PROTO[number]  # type: ignore[index]
    except KeyError:
        raise InvalidArgument(f"invalid stage number {number}") from None


def status_to_proto(status: str) -> pb.ModelVersionStatus.ValueType:
    try:
        return _STATUS_TO_PROTO[status]
    except KeyError:
        raise InvalidArgument(
            f"invalid model version status {status!r}: "
            f"expected one of {', '.join(_STATUS_TO_PROTO)}"
        ) from None


def status_from_proto(number: int) -> str:
    try:
        return _STATUS_FROM_PROTO[number]  # type: ignore[index]
    except KeyError:
        raise InvalidArgument(f"invalid model version status number {number}") from None
