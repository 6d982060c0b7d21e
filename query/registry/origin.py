"""The time and user an import carries over from another registry (MLflow's).

CreateRegisteredModel and CreateModelVersion may say when the model or version was
created (`created_at`, the event's occurred_at) and, for a version, who created it
(`user_id`, the creation event's recorded actor), so that an imported registry keeps
its history. Backdating is trusted: with authentication on only an admin may do it;
with it off (a loopback service) anyone may. A time later than now is refused: the
last-writer-wins order of later changes (ingest/projectors/order.py) keys on
occurred_at, and a creation stamped in the future would make a live change made after
it lose. A creation stamped in the past orders before every later change of the same
model, which is what happened; an import creates fresh models, so nothing newer exists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from tracklog.query.auth.permissions import current_caller
from tracklog.query.errors import InvalidArgument, PermissionDenied
from tracklog.v1 import registry_pb2 as r

SKEW_NS = 5 * 1_000_000_000  # a source clock this far ahead of the service is tolerated


@dataclass(frozen=True, slots=True)
class Origin:
    occurred_ns: int | None  # None: now
    user_id: str  # "": the caller


NOW = Origin(None, "")  # a live call: the service's clock and the caller


def origin(request: r.CreateRegisteredModelRequest | r.CreateModelVersionRequest) -> Origin:
    """The creation time and user the request asks to record; InvalidArgument for a time
    in the future, PermissionDenied when a caller who is not an admin asks for either."""
    given = [name for name in ("created_at", "user_id") if _is_set(request, name)]
    if not given:
        return NOW
    caller = current_caller()
    if caller is not None and not caller.is_admin:
        raise PermissionDenied(
            f"only an admin may set {' and '.join(given)} (the recorded creation "
            f"{'time and user' if len(given) == 2 else given[0]} of an import); "
            f"{caller.name!r} is not one"
        )
    occurred_ns = None
    if request.HasField("created_at"):
        occurred_ns = _checked_ns(request.created_at)
    user_id = request.user_id if isinstance(request, r.CreateModelVersionRequest) else ""
    return Origin(occurred_ns, user_id)


def _is_set(
    request: r.CreateRegisteredModelRequest | r.CreateModelVersionRequest, name: str
) -> bool:
    if name == "created_at":
        return request.HasField("created_at")
    return isinstance(request, r.CreateModelVersionRequest) and bool(request.user_id)


def _checked_ns(created_at: Timestamp) -> int:
    if created_at.seconds < 0 or not 0 <= created_at.nanos < 1_000_000_000:
        raise InvalidArgument(f"created_at is not a valid time after 1970: {created_at}")
    occurred_ns = created_at.ToNanoseconds()
    if occurred_ns > time.time_ns() + SKEW_NS:
        raise InvalidArgument(
            "created_at is in the future: a creation may be backdated, never postdated "
            "(later changes would lose to it)"
        )
    return occurred_ns
