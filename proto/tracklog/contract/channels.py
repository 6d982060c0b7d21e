"""Client channels to the query service (the SDK's, the CLI's): TLS when asked for, and the
bearer token.

A ``grpcs://host:port`` address, or a CA file (TRACKLOG_TLS_CAFILE), makes the channel
use TLS (the CA file's certificates as roots, else the system's); a plain ``host:port``
(or ``grpc://host:port``) is a plaintext channel. With TRACKLOG_TOKEN set, every call
carries ``authorization: Bearer <token>`` (added by a client interceptor, so it works on
a plaintext loopback channel as well as over TLS). The token is never logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import grpc

from tracklog.contract.settings import AuthSettings

SECURE_SCHEME = "grpcs://"
PLAIN_SCHEME = "grpc://"


def channel_target(address: str) -> tuple[str, bool]:
    """(``host:port``, whether the address asks for TLS) of a query service address."""
    address = address.strip()
    if address.startswith(SECURE_SCHEME):
        return address[len(SECURE_SCHEME) :], True
    if address.startswith(PLAIN_SCHEME):
        return address[len(PLAIN_SCHEME) :], False
    return address, False


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str]] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: Any


class BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):  # type: ignore[misc, type-arg]
    """Adds ``authorization: Bearer <token>`` to every call of a channel."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def __repr__(self) -> str:
        return "BearerToken(<hidden>)"

    def _with_token(self, details: Any) -> _CallDetails:
        metadata = [*(details.metadata or ()), self._header]
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Any], client_call_details: Any, request: Any
    ) -> Any:
        return continuation(self._with_token(client_call_details), request)

    def intercept_unary_stream(
        self, continuation: Callable[[Any, Any], Any], client_call_details: Any, request: Any
    ) -> Any:
        return continuation(self._with_token(client_call_details), request)


def open_channel(
    address: str,
    options: Sequence[tuple[str, Any]] = (),
    auth: AuthSettings | None = None,
) -> grpc.Channel:
    """A channel to the query service at `address` as the settings ask (TLS, token);
    `auth` None reads TRACKLOG_TLS_CAFILE and TRACKLOG_TOKEN from the environment."""
    auth = AuthSettings.from_env() if auth is None else auth
    target, secure = channel_target(address)
    if secure or auth.tls_cafile:
        roots = Path(auth.tls_cafile).read_bytes() if auth.tls_cafile else None
        credentials = grpc.ssl_channel_credentials(root_certificates=roots)
        channel = grpc.secure_channel(target, credentials, options=list(options))
    else:
        channel = grpc.insecure_channel(target, options=list(options))
    if auth.token:
        return grpc.intercept_channel(channel, BearerToken(auth.token))
    return channel
