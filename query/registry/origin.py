"""The times, user and stage an import carries over from another registry (MLflow's).

CreateRegisteredModel and CreateModelVersion may say when the model or version was
created (`created_at`, the event's occurred_at) and, for a version, who created it
(`user_id`, the creation event's recorded actor; set to "" for a version recorded
without one) and the stage it is in (`stage`, whatever its status: another registry may
hold a version in a stage that Tracklog, which moves only READY versions, would not let
it reach). The later writes an import makes (a description, a tag, a status, a stage, an
alias, a placeholder version's deletion) may say when they happened (`occurred_at`), so
that the model's and versions' last-updated times stay the other registry's.

Backdating is trusted: with authentication on only an admin may do it; with it off (a
loopback service) anyone may. A time later than now is refused: the last-writer-wins
order of later changes (ingest/projectors/order.py) keys on occurred_at, and a change
stamped in the future would make a live change made after it lose. A change stamped in
the past orders before every later change of the same model, which is what happened.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from tracklog.query.auth.permissions import current_caller
from tracklog.query.errors import InvalidArgument, PermissionDenied
from tracklog.v1 import registry_pb2 as r

SKEW_NS = 5 * 1_000_000_000  # a source clock this far ahead of the service is tolerated
TIME_FIELDS = ("created_at", "occurred_at")


@dataclass(frozen=True, slots=True)
class Origin:
    occurred_ns: int | None  # None: now
    user_id: str | None  # None: the caller ("" is a version recorded without a user)


NOW = Origin(None, None)  # a live call: the service's clock and the caller


def origin(request: Message) -> Origin:
    """The time and user the request asks to record; InvalidArgument for a time in the
    future, PermissionDenied when a caller who is not an admin sets any of the import's
    fields (created_at, occurred_at, user_id, stage)."""
    given = [name for name in (*TIME_FIELDS, "user_id", "stage") if _is_set(request, name)]
    if not given:
        return NOW
    caller = current_caller()
    if caller is not None and not caller.is_admin:
        raise PermissionDenied(
            f"only an admin may set {' and '.join(given)} (what an import keeps of "
            f"another registry's history); {caller.name!r} is not one"
        )
    occurred_ns = None
    for name in TIME_FIELDS:
        if name in given:
            occurred_ns = _checked_ns(name, getattr(request, name))
    user_id: str | None = request.user_id if "user_id" in given else None  # type: ignore[attr-defined]
    return Origin(occurred_ns, user_id)


def _is_set(request: Message, name: str) -> bool:
    if name == "stage" and not isinstance(request, r.CreateModelVersionRequest):
        return False  # a transition's stage is the change itself, not an import's field
    field = request.DESCRIPTOR.fields_by_name.get(name)
    if field is None:
        return False
    if field.has_presence:  # a Timestamp, or the optional user_id
        return request.HasField(name)
    return bool(getattr(request, name))


def _checked_ns(name: str, stamp: Timestamp) -> int:
    if stamp.seconds < 0 or not 0 <= stamp.nanos < 1_000_000_000:
        raise InvalidArgument(f"{name} is not a valid time after 1970: {stamp}")
    occurred_ns = stamp.ToNanoseconds()
    if occurred_ns > time.time_ns() + SKEW_NS:
        raise InvalidArgument(
            f"{name} is in the future: a change may be backdated, never postdated "
            "(later changes would lose to it)"
        )
    return occurred_ns
