"""`TracklogError`: what `TracklogClient` raises when the query service says no.

`code` is the gRPC status name (NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT,
FAILED_PRECONDITION, DEADLINE_EXCEEDED, UNAVAILABLE, ...); the message is the
server's. Input that breaks MLflow's rules raises ValueError before anything is sent.
"""

from __future__ import annotations

import grpc


class TracklogError(RuntimeError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def from_rpc(error: grpc.RpcError) -> TracklogError:
    if isinstance(error, grpc.Call):
        code = error.code()
        return TracklogError(code.name, error.details() or code.name)
    return TracklogError("UNKNOWN", str(error))
