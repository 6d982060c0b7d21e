"""A running query server over fresh read-model schemas, and a stub talking to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import psycopg
import pytest

from tracklog.contract.read_model import clickhouse_schema as schema_clickhouse
from tracklog.contract.read_model import postgres_schema as schema_postgres
from tracklog.contract.settings import Settings
from tracklog.query.server import create_server
from tracklog.v1 import query_pb2_grpc


@pytest.fixture
def schemas(settings: Settings, clickhouse_client: Any) -> None:
    with psycopg.connect(settings.postgres_dsn) as conn:
        schema_postgres.migrate(conn)
    schema_clickhouse.migrate(clickhouse_client, settings.clickhouse_database)


@pytest.fixture
def pg(settings: Settings, schemas: None) -> Iterator[psycopg.Connection[Any]]:
    """A connection for writing rows (autocommit: the server sees them at once)."""
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def server(settings: Settings, clickhouse_client: Any, schemas: None) -> Iterator[tuple[Any, int]]:
    server, port = create_server("127.0.0.1:0", settings, clickhouse_client, max_workers=4)
    server.start()
    try:
        yield server, port
    finally:
        server.stop(None).wait(10)


@pytest.fixture
def channel(server: tuple[Any, int]) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server[1]}") as channel:
        yield channel


@pytest.fixture
def stub(channel: grpc.Channel) -> query_pb2_grpc.QueryServiceStub:
    return query_pb2_grpc.QueryServiceStub(channel)
