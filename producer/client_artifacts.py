"""The artifacts part of `TracklogClient` (filled in by the issue-3 work)."""

from __future__ import annotations

from tracklog.v1 import query_pb2_grpc


class ArtifactsMixin:
    """Methods of `TracklogClient` for artifacts; they use the client's query stub."""

    _query: query_pb2_grpc.QueryServiceStub
