"""The core of `TracklogClient`: the gRPC channel, error mapping and read-your-writes.

Writes go through a `Session` (the client's own, else the default session of
`tracklog.get_session`), so they never wait on the network. Every read first
calls `_sync`: the session flushes and names what it wrote (`flush_token`) and,
when that token has not been waited for yet, the query service's `WaitFor` returns
once it is projected. So `log_metric` then `get_run` in one process sees the write.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import grpc

from tracklog.client.errors import TracklogError, from_rpc
from tracklog.contract.channels import open_channel
from tracklog.contract.flush_tokens import FlushToken
from tracklog.contract.settings import QueryLimits, Settings
from tracklog.run import user_name
from tracklog.session import Session
from tracklog.session.default import existing_session, get_session
from tracklog.v1 import query_pb2_grpc, registry_pb2_grpc, tracking_pb2

Resp = TypeVar("Resp")
DEFAULT_WAIT_SECONDS = 30.0


class ClientBase:
    def __init__(
        self,
        query_addr: str | None = None,
        *,
        session: Session | None = None,
        timeout: float = 60.0,
        wait_timeout: float = DEFAULT_WAIT_SECONDS,
    ) -> None:
        self.query_addr = query_addr or Settings.from_env().query_addr  # TRACKLOG_QUERY_ADDR
        # message size limits as the query service's (TRACKLOG_GRPC_MAX_*_BYTES)
        limits = QueryLimits.from_env().channel_options()
        # TLS for a grpcs:// address or TRACKLOG_TLS_CAFILE; TRACKLOG_TOKEN on every call
        self._channel = open_channel(self.query_addr, options=limits)
        self._query = query_pb2_grpc.QueryServiceStub(self._channel)
        self._registry = registry_pb2_grpc.RegistryServiceStub(self._channel)
        self._actor = user_name()  # recorded with registry changes (unless authenticated)
        self._session = session
        self._timeout = timeout
        self._wait_timeout = wait_timeout
        self._waited = ""  # the last flush token WaitFor confirmed
        self.fence: Callable[[], str] | None = None  # e.g. `read_fence.TopicFence.token`
        self._params: dict[str, dict[str, str]] = {}  # run id -> params this client logged

    def _writer(self) -> Session:
        return self._session if self._session is not None else get_session()

    def _call(self, method: Callable[..., Resp], request: Any) -> Resp:
        try:
            return method(request, timeout=self._timeout)
        except grpc.RpcError as error:
            raise from_rpc(error, self.query_addr) from error

    def _sync(self) -> None:
        """Wait until everything this process's session wrote is readable (nothing to wait
        for, and no session created, when this process has not written yet); with a
        `fence` (a callable returning a flush token), also until what it names is."""
        token = self._own_token()
        if self.fence is not None:
            # taken after our own writes were acknowledged, so it covers them too
            token = self.fence() or token
        if token and token != self._waited:
            request = tracking_pb2.WaitForRequest(token=token, timeout_seconds=self._wait_timeout)
            self._call(self._query.WaitFor, request)
            self._waited = token

    def _own_token(self) -> str:
        session = self._session
        if session is None:
            session = existing_session()
            if session is None:
                return ""
        try:
            return session.flush_token(self._wait_timeout)
        except TimeoutError as exc:
            raise TracklogError("DEADLINE_EXCEEDED", str(exc)) from exc

    def query(self, rpc: str, request: Any) -> Any:
        """A QueryService call by name after read-your-writes (for adapters such as
        `tracklog.mlflow` that want the reply message itself)."""
        self._sync()
        return self._call(getattr(self._query, rpc), request)

    def query_now(self, rpc: str, request: Any) -> Any:
        """A QueryService call by name without waiting for any write: for checks that may
        see a slightly older state (it may miss what was written a moment ago)."""
        return self._call(getattr(self._query, rpc), request)

    def flush(self, timeout: float | None = None) -> FlushToken:
        """Wait until the writes so far are acknowledged by Kafka; the token naming them
        (falsy on timeout; see `Session.flush`)."""
        return self._writer().flush(timeout)

    def flush_token(self, timeout: float | None = None) -> str:
        """Flush and return the token naming what was written (see `Session.flush_token`)."""
        return self._writer().flush_token(timeout)

    def wait_for(self, token: str, timeout: float | None = None) -> None:
        """Return once ``token`` is projected; TracklogError DEADLINE_EXCEEDED otherwise."""
        seconds = self._wait_timeout if timeout is None else timeout
        request = tracking_pb2.WaitForRequest(token=token, timeout_seconds=seconds)
        self._call(self._query.WaitFor, request)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
