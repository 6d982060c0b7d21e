"""How the query service listens: TLS when it has a certificate, and never bearer tokens
in clear text off loopback.

`bind` adds the server's port: a secure port from TRACKLOG_TLS_CERTFILE and
TRACKLOG_TLS_KEYFILE, else an insecure one, which with TRACKLOG_AUTH=on is allowed only
on a loopback address (a token sent in clear text over a network can be read and
replayed).
"""

from __future__ import annotations

from pathlib import Path

import grpc

from tracklog.contract.settings import AuthSettings

LOOPBACK_HOSTS = frozenset({"localhost", "::1", "ip6-localhost"})


def host_of(address: str) -> str:
    """The host part of ``host:port`` (``[::1]:50051`` -> ``::1``)."""
    host = address.rpartition(":")[0] if ":" in address else address
    return host.strip("[]").lower()


def is_loopback(address: str) -> bool:
    host = host_of(address)
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def check_exposure(address: str, auth: AuthSettings) -> None:
    """Refuse to start with authentication on and TLS off unless bound to loopback."""
    if auth.enabled and not auth.tls and not is_loopback(address):
        raise ValueError(
            f"TRACKLOG_AUTH=on needs TLS to listen on {address} (tokens would cross the"
            " network in clear text): set TRACKLOG_TLS_CERTFILE and TRACKLOG_TLS_KEYFILE,"
            " or bind TRACKLOG_QUERY_ADDR to 127.0.0.1"
        )


def server_credentials(auth: AuthSettings) -> grpc.ServerCredentials:
    key = Path(auth.tls_keyfile).read_bytes()
    certificate = Path(auth.tls_certfile).read_bytes()
    return grpc.ssl_server_credentials([(key, certificate)])


def bind(server: grpc.Server, address: str, auth: AuthSettings) -> int:
    """Add the listening port (TLS when configured); the port number."""
    check_exposure(address, auth)
    if auth.tls:
        return server.add_secure_port(address, server_credentials(auth))
    return server.add_insecure_port(address)
