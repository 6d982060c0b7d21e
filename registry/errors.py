"""The registry's domain errors; each message names the problem. The query service maps
them to gRPC status codes (query/errors.py); `code` is how the projection records them."""

from __future__ import annotations


class RegistryError(Exception):
    """Base of the registry's domain errors."""

    code = "UNKNOWN"


class NotFound(RegistryError):
    """The model, version or alias does not exist."""

    code = "NOT_FOUND"


class AlreadyExists(RegistryError):
    """The name is taken."""

    code = "ALREADY_EXISTS"


class InvalidArgument(RegistryError):
    """A malformed name, stage, alias, tag or filter."""

    code = "INVALID_ARGUMENT"


class FailedPrecondition(RegistryError):
    """Well-formed, but not allowed in the current state (e.g. a transition)."""

    code = "FAILED_PRECONDITION"


class Unavailable(RegistryError):
    """The service (or the store or broker behind it) cannot be reached; retry later."""

    code = "UNAVAILABLE"


class DeadlineExceeded(RegistryError):
    """A write was sent but not applied in time; it takes effect once ingest catches up."""

    code = "DEADLINE_EXCEEDED"


class PermissionDenied(RegistryError):
    """The caller may not do this to this model (the message names the permission needed)."""

    code = "PERMISSION_DENIED"


class Unauthenticated(RegistryError):
    """The service needs a valid bearer token (TRACKLOG_TOKEN)."""

    code = "UNAUTHENTICATED"


ERRORS_BY_CODE: dict[str, type[RegistryError]] = {
    kind.code: kind
    for kind in (
        NotFound,
        AlreadyExists,
        InvalidArgument,
        FailedPrecondition,
        Unavailable,
        DeadlineExceeded,
        PermissionDenied,
        Unauthenticated,
    )
}


def from_code(code: str, message: str) -> RegistryError:
    """The error a recorded (code, message) stands for."""
    return ERRORS_BY_CODE.get(code, RegistryError)(message)
