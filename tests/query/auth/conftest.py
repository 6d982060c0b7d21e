"""A query server with authentication on (port 0), users with tokens, stubs per token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import psycopg
import pytest

from tests.e2e.pipeline import Pipeline, running_pipeline
from tracklog import RegistryClient
from tracklog.contract.channels import open_channel
from tracklog.contract.settings import AuthSettings, Settings
from tracklog.query.auth import accounts, grants
from tracklog.query.auth.permissions import EXPERIMENT, REGISTERED_MODEL, Permission
from tracklog.query.server import create_server

Conn = psycopg.Connection[Any]


def make_user(pg: Conn, name: str, *, admin: bool = False) -> str:
    """A new user and a token for it (the token)."""
    accounts.create_user(pg, name, admin=admin)
    return accounts.create_token(pg, name).secret


def grant(pg: Conn, user: str, kind: str, ref: str, level: Permission) -> None:
    resource = grants.resource_id(pg, kind, ref)
    assert resource is not None, f"no {kind} {ref}"
    grants.grant(pg, user, kind, resource, level)


def grant_experiment(pg: Conn, user: str, ref: str, level: Permission) -> None:
    grant(pg, user, EXPERIMENT, ref, level)


def grant_model(pg: Conn, user: str, name: str, level: Permission) -> None:
    grant(pg, user, REGISTERED_MODEL, name, level)


ServerFactory = Callable[..., int]


@pytest.fixture
def auth_server(
    settings: Settings, clickhouse_client: Any, schemas: None
) -> Iterator[ServerFactory]:
    """Starts query servers with authentication on (`default_permission`, TLS files as
    given); each call returns the new server's port."""
    started: list[Any] = []

    def start(
        default_permission: str = "READ", tls_certfile: str = "", tls_keyfile: str = ""
    ) -> int:
        auth = AuthSettings(
            enabled=True,
            default_permission=default_permission,
            tls_certfile=tls_certfile,
            tls_keyfile=tls_keyfile,
        )
        server, port = create_server(
            "127.0.0.1:0", settings, clickhouse_client, max_workers=4, auth=auth
        )
        server.start()
        started.append(server)
        return port

    yield start
    for server in started:
        server.stop(None).wait(10)


@pytest.fixture
def channels() -> Iterator[Callable[..., grpc.Channel]]:
    """Opens channels to 127.0.0.1:`port` carrying `token` (closed after the test)."""
    opened: list[grpc.Channel] = []

    def open_to(port: int, token: str = "", tls_cafile: str = "") -> grpc.Channel:
        auth = AuthSettings(token=token, tls_cafile=tls_cafile)
        channel = open_channel(f"127.0.0.1:{port}", auth=auth)
        opened.append(channel)
        return channel

    yield open_to
    for channel in opened:
        channel.close()


def failure(call: Callable[[], object]) -> Any:
    """Make the call, expect it to fail, and return the error (a grpc.Call: code, details)."""
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


@pytest.fixture
def pipeline(
    settings: Settings,
    clickhouse_client: Any,
    pg: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Pipeline]:
    """The whole pipeline with authentication on (TRACKLOG_AUTH, read by create_server)."""
    monkeypatch.setenv("TRACKLOG_AUTH", "on")
    with running_pipeline(settings, clickhouse_client) as running:
        yield running


def client_as(token: str, address: str, monkeypatch: pytest.MonkeyPatch) -> RegistryClient:
    """The SDK's registry client calling with `token` (TRACKLOG_TOKEN, what the SDK sends)."""
    monkeypatch.setenv("TRACKLOG_TOKEN", token)
    return RegistryClient(address, timeout=30)
