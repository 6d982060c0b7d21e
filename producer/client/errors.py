"""`TracklogError`: what `TracklogClient` raises when the query service says no.

`code` is the gRPC status name (NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT,
FAILED_PRECONDITION, DEADLINE_EXCEEDED, UNAVAILABLE, ...); the message is the
server's, or, when the query service cannot be reached at all, one naming its address
and what to do. Input that breaks MLflow's rules raises ValueError before anything is sent.
"""

from __future__ import annotations

import grpc


class TracklogError(RuntimeError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# what gRPC's details say when no connection could be made (not a server's UNAVAILABLE)
_CONNECTION_FAILURES = (
    "failed to connect to all addresses",
    "DNS resolution failed",
    "errors resolving",
    "Connection refused",
)


def unreachable(details: str) -> bool:
    """True when a call's details say the service could not be reached at all."""
    return any(marker in details for marker in _CONNECTION_FAILURES)


def unreachable_message(address: str, details: str) -> str:
    reason = details.rsplit(": ", 1)[-1].strip() or details
    return (
        f"the Tracklog query service at {address} is not reachable ({reason}); is "
        "`tracklog up` (or `tracklog query`) running? Else set TRACKLOG_QUERY_ADDR to its "
        "address. Logging works meanwhile: events are spooled until Kafka takes them"
    )


def from_rpc(error: grpc.RpcError, address: str = "") -> TracklogError:
    """The TracklogError for a failed call to the query service at `address`."""
    if isinstance(error, grpc.Call):
        code = error.code()
        details = error.details() or code.name
        if address and code == grpc.StatusCode.UNAVAILABLE and unreachable(details):
            details = unreachable_message(address, details)
        return TracklogError(code.name, details)
    return TracklogError("UNKNOWN", str(error))
