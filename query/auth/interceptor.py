"""The gRPC server interceptor that authenticates each call and checks its permission.

Every call but health checking and reflection must carry ``authorization: Bearer
<token>``; a missing, unknown or revoked token is UNAUTHENTICATED. The method's rule
(`rules.RULES`) names what it needs; too little is PERMISSION_DENIED naming the
resource, the level needed and the level held. The checks run in the handler's thread
(never in gRPC's polling thread), on this interceptor's own small pool of read-write
connections (the query service's pool is read-only); `permissions.CALLER` holds the
caller while the handler runs, so searches filter by it and the registry records it as
the actor. After a registered model is created its creator gets MANAGE on it; after one
is deleted its grants go.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import psycopg
import psycopg_pool
from psycopg_pool import ConnectionPool

from tracklog.query.auth import grants
from tracklog.query.auth.permissions import CALLER, Caller, Permission
from tracklog.query.auth.rules import OPEN_PREFIXES, REGISTRY, RULES, Rule
from tracklog.query.auth.tokens import authenticate, bearer_token

log = logging.getLogger(__name__)

NO_TOKEN = (
    "this call needs a bearer token: set TRACKLOG_TOKEN (`tracklog tokens create USER` makes one)"
)
BAD_TOKEN = "the bearer token is not valid or has been revoked (TRACKLOG_TOKEN)"
_STORE_DOWN = (psycopg.OperationalError, psycopg_pool.PoolTimeout)


class Authenticator(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Bearer tokens and permissions for every QueryService and RegistryService call."""

    def __init__(
        self, postgres_dsn: str, default_permission: Permission, *, max_connections: int = 4
    ) -> None:
        self._default = default_permission
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            postgres_dsn,
            min_size=1,
            max_size=max_connections,  # each call holds one for a few short queries
            timeout=10.0,
            kwargs={"autocommit": True},
            open=True,
            name="tracklog-auth",
        )

    def close(self) -> None:
        self._pool.close()

    def intercept_service(
        self, continuation: Callable[[Any], Any], handler_call_details: Any
    ) -> Any:
        handler = continuation(handler_call_details)
        method = str(getattr(handler_call_details, "method", ""))
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        rule = RULES.get(method)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, method, rule),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream, method, rule),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.unary_unary_rpc_method_handler(self._refuse_streaming)  # none are served

    def _unary(
        self, behavior: Callable[[Any, Any], Any], method: str, rule: Rule | None
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            caller = self._admit(method, rule, request, context)
            token = CALLER.set(caller)
            try:
                response = behavior(request, context)
                self._after(method, request, caller)
                return response
            finally:
                CALLER.reset(token)

        return guarded

    def _stream(
        self, behavior: Callable[[Any, Any], Iterator[Any]], method: str, rule: Rule | None
    ) -> Callable[[Any, grpc.ServicerContext], Iterator[Any]]:
        def guarded(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            caller = self._admit(method, rule, request, context)
            token = CALLER.set(caller)
            try:
                yield from behavior(request, context)
            finally:
                CALLER.reset(token)

        return guarded

    def _refuse_streaming(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "no permission rule for this method")

    def _admit(
        self, method: str, rule: Rule | None, request: Any, context: grpc.ServicerContext
    ) -> Caller:
        """The authenticated caller, once its permission is checked; else abort the call."""
        secret = bearer_token(context.invocation_metadata())
        if secret is None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, NO_TOKEN)
        try:
            with self._pool.connection() as conn:
                caller = authenticate(conn, secret, self._default)
                if caller is None:
                    context.abort(grpc.StatusCode.UNAUTHENTICATED, BAD_TOKEN)
                if rule is None:
                    context.abort(
                        grpc.StatusCode.PERMISSION_DENIED, f"no permission rule for {method}"
                    )
                missing = grants.shortfall(conn, caller, rule(request))
        except _STORE_DOWN as error:
            context.abort(
                grpc.StatusCode.UNAVAILABLE, f"could not check the caller's token: {error}"
            )
        if missing is not None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, missing.message(caller.name))
        return caller

    def _after(self, method: str, request: Any, caller: Caller) -> None:
        """Grants that follow a successful call: the creator's MANAGE, a deleted model's."""
        try:
            if method == REGISTRY + "CreateRegisteredModel":
                with self._pool.connection() as conn:
                    grants.grant_model_creator(conn, caller.name, request.name)
            elif method == REGISTRY + "DeleteRegisteredModel":
                with self._pool.connection() as conn:
                    grants.drop_deleted_model_grants(conn)
        except Exception:
            log.exception("updating permissions after %s failed", method)
