"""What a session asks the query service before it writes: ids, locations, the root.

A `Session` writes without waiting on the network, but a few decisions belong to
the deployment, not to the process that happens to run: which experiment holds a
name (`tracklog.experiment_names`), where an existing experiment keeps its artifacts
(its recorded ``artifact_location``), and where a new one will (the deployment's
artifact root, ``GetServiceInfo``, which also names the roots locations must lie
under). `Deployment` asks the query service at ``query_addr`` and remembers the
answers; when the service cannot be reached it falls back to what this process knows
(``TRACKLOG_ARTIFACT_ROOT``, derived ids) and does not ask again for
`RETRY_AFTER_SECONDS`, so an absent service costs one timeout, not one per call.
``query_addr=""`` never asks.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import grpc

from tracklog import experiment_names
from tracklog.contract.channels import open_channel
from tracklog.contract.ids import experiment_id_for
from tracklog.experiment_names import Resolved
from tracklog.v1 import query_pb2, query_pb2_grpc, tracking_pb2

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT_SECONDS = 2.0
RETRY_AFTER_SECONDS = 30.0


class Deployment:
    def __init__(
        self, query_addr: str, fallback_root: str, timeout: float = LOOKUP_TIMEOUT_SECONDS
    ) -> None:
        self.query_addr = query_addr
        self.fallback_root = fallback_root  # a URI (locations.normalize_root)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._info: tracking_pb2.GetServiceInfoResponse | None = None  # once it answered
        self._down_until = 0.0

    def _stub(self) -> query_pb2_grpc.QueryServiceStub | None:
        if not self.query_addr or time.monotonic() < self._down_until:
            return None
        with self._lock:
            if self._channel is None:
                self._channel = open_channel(self.query_addr)  # TLS, token as the client's
            return query_pb2_grpc.QueryServiceStub(self._channel)

    def _unreachable(self, error: grpc.RpcError) -> None:
        self._down_until = time.monotonic() + RETRY_AFTER_SECONDS
        log.debug("tracklog: the query service at %s does not answer: %s", self.query_addr, error)

    def _ask(self, call: Any, request: Any) -> Any:
        """The reply, None when the service says NOT_FOUND or cannot be reached."""
        stub = self._stub()
        if stub is None:
            return None
        try:
            return call(stub)(request, timeout=self._timeout)
        except grpc.RpcError as error:
            if isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            self._unreachable(error)
            return None

    def wait_for(self, token: str) -> None:
        """Best effort: return once ``token`` is projected, or at the lookup timeout."""
        if token:
            request = tracking_pb2.WaitForRequest(token=token, timeout_seconds=self._timeout)
            self._ask(lambda s: s.WaitFor, request)

    def resolve(self, name: str) -> Resolved:
        """Which experiment holds ``name`` (raises ExperimentDeletedError if it is deleted)."""
        stub = self._stub()
        if stub is not None:
            try:
                return experiment_names.resolve_with(stub, name, self._timeout)
            except grpc.RpcError as error:
                self._unreachable(error)
        return Resolved(experiment_id_for(name), False)

    def recorded_location(self, experiment_id: str) -> str | None:
        """The artifact_location the experiment was created with; None when it does not
        exist (yet) or the service cannot tell."""
        request = query_pb2.GetExperimentRequest(experiment_id=experiment_id)
        reply = self._ask(lambda s: s.GetExperiment, request)
        return (reply.experiment.artifact_location or None) if reply is not None else None

    def _service_info(self) -> tracking_pb2.GetServiceInfoResponse | None:
        """The service's GetServiceInfo answer, asked once; None when it cannot be reached."""
        if self._info is None:
            reply = self._ask(lambda s: s.GetServiceInfo, tracking_pb2.GetServiceInfoRequest())
            self._info = reply
        return self._info

    def artifact_root(self) -> str:
        """Where new experiments keep artifacts: the deployment's root, else this process's."""
        info = self._service_info()
        return (info.artifact_root if info is not None else "") or self.fallback_root

    def allowed_roots(self) -> tuple[str, ...]:
        """The prefixes the deployment's artifact locations must lie under, as URIs; () when
        the service does not check them or cannot be reached (its workers still check)."""
        info = self._service_info()
        return tuple(info.artifact_roots) if info is not None else ()

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
                self._channel = None
