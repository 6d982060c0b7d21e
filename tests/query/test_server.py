"""The server around the servicer: health, reflection, and shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tracklog.contract.settings import Settings
from tracklog.deploy.processes import free_port
from tracklog.query.server import SERVICE_NAME, create_server


def test_health_answers_serving_overall_and_for_the_query_service(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "tracklog.v1.QueryService"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(channel: grpc.Channel) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (reply,) = list(reflection.ServerReflectionInfo(iter([request]), timeout=10))
    names = {s.name for s in reply.list_services_response.service}
    assert {"tracklog.v1.QueryService", "grpc.health.v1.Health"} <= names
    describe = reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE_NAME)
    (reply,) = list(reflection.ServerReflectionInfo(iter([describe]), timeout=10))
    assert reply.file_descriptor_response.file_descriptor_proto


def _pool_connections(settings: Settings) -> int:
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_stop_turns_health_off_and_closes_the_pool(
    settings: Settings, clickhouse_client: Any, schemas: None
) -> None:
    server, port = create_server("127.0.0.1:0", settings, clickhouse_client)
    server.start()
    assert port > 0
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert _pool_connections(settings) >= 1
    assert server.stop(1.0).wait(10)
    deadline = time.monotonic() + 5  # a closed backend leaves pg_stat_activity shortly after
    while _pool_connections(settings) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pool_connections(settings) == 0
    assert clickhouse_client.query("SELECT 1").result_rows == [(1,)]  # shared: left open


def test_create_server_needs_a_postgres_dsn(clickhouse_client: Any) -> None:
    with pytest.raises(ValueError, match="TRACKLOG_POSTGRES_DSN"):
        create_server("127.0.0.1:0", Settings(), clickhouse_client)


def test_serve_runs_until_sigterm_then_exits_cleanly(
    settings: Settings, schemas: None, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "TRACKLOG_QUERY_ADDR": address,
        "TRACKLOG_POSTGRES_DSN": settings.postgres_dsn,
        # chDB allows one data path per process: the server process gets its own.
        "TRACKLOG_CLICKHOUSE_DSN": f"chdb://{tmp_path / 'chdb'}",
        "TRACKLOG_CLICKHOUSE_DATABASE": settings.clickhouse_database,
    }
    code = (
        "from tracklog.query.server import serve; from tracklog.contract.settings import Settings;"
    )
    code += " serve(Settings.from_env(), grace=1.0)"
    process = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        with grpc.insecure_channel(address) as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=10
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
