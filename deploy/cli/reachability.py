"""Is an address reachable? A TCP connect with a short timeout, before a command asks
a client library that would retry for half a minute (kafka-python) to try it."""

from __future__ import annotations

import socket

from tracklog.contract.channels import channel_target
from tracklog.contract.settings import KafkaSettings
from tracklog.deploy.cli.failures import kafka_unreachable, query_unreachable

CHECK_TIMEOUT_SECONDS = 2.0


def split_address(address: str) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets; a grpcs:// or grpc:// scheme is ignored) -> (host,
    port); ValueError if it is not one."""
    host, sep, port = channel_target(address)[0].rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"not a host:port address: {address!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def unreachable_reason(address: str, timeout: float = CHECK_TIMEOUT_SECONDS) -> str | None:
    """None when something accepts TCP connections at `address`; else why not."""
    try:
        host, port = split_address(address)
        with socket.create_connection((host, port), timeout):
            return None
    except ValueError as error:
        return str(error)
    except TimeoutError:
        return f"no answer in {timeout:g} s"
    except OSError as error:
        return error.strerror or str(error)


def kafka_reason(bootstrap: str, timeout: float = CHECK_TIMEOUT_SECONDS) -> str | None:
    """None when any of the bootstrap servers accepts connections; else the last reason."""
    reason: str | None = "no bootstrap servers"
    for address in filter(None, (a.strip() for a in bootstrap.split(","))):
        reason = unreachable_reason(address, timeout)
        if reason is None:
            return None
    return reason


def require_kafka(kafka: KafkaSettings) -> None:
    """CliFailure (exit 3) unless one of the bootstrap servers accepts connections."""
    reason = kafka_reason(kafka.bootstrap_servers)
    if reason is not None:
        raise kafka_unreachable(kafka.bootstrap_servers, reason)


def require_query_service(address: str) -> None:
    """CliFailure (exit 3) unless something accepts connections at the query address."""
    reason = unreachable_reason(address)
    if reason is not None:
        raise query_unreachable(address, reason)
