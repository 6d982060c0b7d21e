"""Build and run the query gRPC server: QueryService, RegistryService, health checking and
reflection.

`create_server` builds a server (not started) bound to an address; `serve` runs
one until SIGTERM or SIGINT. The server returned by `create_server` owns the
Postgres pool (and the ClickHouse client when it opened one itself): its
`stop(grace)` stops serving, then closes them and sets the returned event, so
`server.stop(grace).wait()` is the whole shutdown. A ClickHouse client passed
in is shared, never closed here.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from tracklog.contract.read_model.clickhouse_client import connect as clickhouse_connect
from tracklog.contract.settings import (
    ArtifactRootSettings,
    AuthSettings,
    QueryLimits,
    Settings,
)
from tracklog.query.auth.interceptor import Authenticator
from tracklog.query.auth.permissions import Permission
from tracklog.query.auth.transport import bind, check_exposure
from tracklog.query.registry.servicer import RegistryServicer
from tracklog.query.registry.writes import RegistryWrites
from tracklog.query.request_limits import RequestLimits
from tracklog.query.servicer import QueryServicer
from tracklog.query.stores import postgres as store_postgres
from tracklog.query.stores.clickhouse import ClickHouseMetricStore
from tracklog.v1 import query_pb2, query_pb2_grpc, registry_pb2, registry_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME: str = query_pb2.DESCRIPTOR.services_by_name["QueryService"].full_name
REGISTRY_SERVICE_NAME: str = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name
GRACE_SECONDS = 10.0


class QueryServer(grpc.Server):
    """A grpc.Server that closes the query service's resources once it has stopped."""

    def __init__(
        self,
        server: grpc.Server,
        health_servicer: health.HealthServicer,
        closers: Iterable[Callable[[], None]],
    ) -> None:
        self._server = server
        self._health = health_servicer
        self._closers = list(closers)
        self._closed = threading.Lock()

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Iterable[Any]) -> None:
        self._server.add_generic_rpc_handlers(generic_rpc_handlers)

    def add_registered_method_handlers(self, service_name: str, method_handlers: Any) -> None:
        self._server.add_registered_method_handlers(service_name, method_handlers)  # type: ignore[attr-defined]

    def add_insecure_port(self, address: str) -> int:
        return self._server.add_insecure_port(address)

    def add_secure_port(self, address: str, server_credentials: grpc.ServerCredentials) -> int:
        return self._server.add_secure_port(address, server_credentials)

    def start(self) -> None:
        self._server.start()

    def stop(self, grace: float | None = None) -> threading.Event:
        """Stop serving (health turns NOT_SERVING first); the event is set once all is closed."""
        self._health.enter_graceful_shutdown()
        stopped = self._server.stop(grace)
        done = threading.Event()

        def close_when_stopped() -> None:
            stopped.wait()
            self.close()
            done.set()

        threading.Thread(
            target=close_when_stopped, name="tracklog-query-close", daemon=True
        ).start()
        return done

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        return self._server.wait_for_termination(timeout)

    def close(self) -> None:
        """Close the pool and owned clients (once); call after the server has stopped."""
        if not self._closed.acquire(blocking=False):
            return
        for close in self._closers:
            try:
                close()
            except Exception:
                log.exception("closing a query service resource failed")


def _health_servicer() -> health.HealthServicer:
    servicer = health.HealthServicer()
    serving = health_pb2.HealthCheckResponse.SERVING
    servicer.set(health.OVERALL_HEALTH, serving)
    servicer.set(SERVICE_NAME, serving)
    servicer.set(REGISTRY_SERVICE_NAME, serving)
    return servicer


def create_server(
    address: str,
    settings: Settings,
    clickhouse: Any | None = None,
    *,
    max_workers: int = 16,
    limits: QueryLimits | None = None,
    auth: AuthSettings | None = None,
) -> tuple[grpc.Server, int]:
    """A query server bound to `address` (port 0 picks one), not started, and its port.

    `clickhouse` is an open clickhouse-connect client to share (e.g. with the
    ingest worker in this process); when None, one is opened from
    `settings.clickhouse_dsn` and closed with the server. `limits` bound every
    request (`request_limits`); `auth` says whether callers need a token and whether the
    port speaks TLS (`tracklog.query.auth`); None for either reads it from the environment.
    """
    limits = QueryLimits.from_env() if limits is None else limits
    auth = AuthSettings.from_env() if auth is None else auth
    check_exposure(address, auth)
    if auth.enabled and not ArtifactRootSettings.from_env(root=settings.artifact_root).configured:
        raise ValueError(
            "TRACKLOG_AUTH=on needs artifact roots: set TRACKLOG_ARTIFACT_ROOT (and"
            " TRACKLOG_ARTIFACT_ROOTS), or TRACKLOG_ARTIFACT_ROOTS=* to allow any location"
        )
    if not settings.postgres_dsn:
        raise ValueError("no Postgres DSN: set TRACKLOG_POSTGRES_DSN")
    closers: list[Callable[[], None]] = []
    try:
        if clickhouse is None:
            clickhouse = clickhouse_connect(settings.clickhouse_dsn)
            closers.append(clickhouse.close)
        metrics = ClickHouseMetricStore(
            clickhouse, settings.clickhouse_database, limits.clickhouse_max_execution_seconds
        )
        pool = store_postgres.open_pool(
            settings.postgres_dsn,
            max_size=max_workers,
            statement_timeout_ms=limits.statement_timeout_ms,
        )
        closers.insert(0, pool.close)
        writes = RegistryWrites(settings.kafka, pool)
        closers.insert(0, writes.close)
        executor = futures.ThreadPoolExecutor(max_workers, thread_name_prefix="tracklog-query")
        interceptors: list[grpc.ServerInterceptor[Any, Any]] = [RequestLimits(limits, max_workers)]
        if auth.enabled:  # first: a caller without a valid token gets no further
            authenticator = Authenticator(
                settings.postgres_dsn,
                Permission.parse(auth.default_permission),
                max_connections=max(2, max_workers // 2),
            )
            closers.insert(0, authenticator.close)
            interceptors.insert(0, authenticator)
        inner = grpc.server(
            executor,
            interceptors=interceptors,
            options=limits.server_options(),
        )
        health_servicer = _health_servicer()
        server = QueryServer(inner, health_servicer, closers)
        servicer = QueryServicer(pool, metrics, settings.artifact_root)
        query_pb2_grpc.add_QueryServiceServicer_to_server(servicer, inner)
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(
            RegistryServicer(pool, writes), inner
        )
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, inner)
        services = (SERVICE_NAME, REGISTRY_SERVICE_NAME, health.SERVICE_NAME)
        reflection.enable_server_reflection((*services, reflection.SERVICE_NAME), inner)
        port = bind(inner, address, auth)
    except BaseException:
        for close in closers:
            close()
        raise
    return server, port


def serve(settings: Settings, *, grace: float = GRACE_SECONDS) -> None:
    """Serve on `settings.query_addr` until SIGTERM or SIGINT, then stop gracefully."""
    server, port = create_server(settings.query_addr, settings)
    server.start()
    log.info("query service listening on %s (port %d)", settings.query_addr, port)
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping the query service", signum)
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stop_requested.wait()
    finally:
        server.stop(grace).wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
