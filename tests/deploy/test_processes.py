"""`tracklog ingest` and `tracklog query` as separate processes, configured by environment.

chDB lets one process own a data directory, so here each process gets its own
(in production both point at one ClickHouse server): the worker's ClickHouse
receives the points, and the query service answers run lookups from Postgres.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import psycopg
import pytest

from tests.e2e.pipeline import wait_until
from tracklog import Session
from tracklog.contract.settings import Settings
from tracklog.deploy.processes import free_port, port_open
from tracklog.v1 import events_pb2, query_pb2, query_pb2_grpc

pytestmark = pytest.mark.integration


def environment(settings: Settings, chdb_dir: Path, query_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "TRACKLOG_KAFKA_BOOTSTRAP": settings.kafka.bootstrap_servers,
        "TRACKLOG_EVENTS_TOPIC": settings.kafka.events_topic,
        "TRACKLOG_CONSUMER_GROUP": settings.consumer_group,
        "TRACKLOG_POSTGRES_DSN": settings.postgres_dsn,
        "TRACKLOG_CLICKHOUSE_DSN": f"chdb://{chdb_dir}",
        "TRACKLOG_CLICKHOUSE_DATABASE": "tracklog",
        "TRACKLOG_QUERY_ADDR": f"127.0.0.1:{query_port}",
    }


def start(command: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tracklog.deploy.cli.main", command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    return output


def test_ingest_and_query_run_as_separate_processes(settings: Settings, tmp_path: Path) -> None:
    query_port = free_port()
    ingest = start("ingest", environment(settings, tmp_path / "ingest-chdb", query_port))
    query = start("query", environment(settings, tmp_path / "query-chdb", query_port))
    try:
        session = Session(settings.kafka)
        session.set_experiment("processes")
        with session.start_run(run_name="separate") as run:
            session.log_param("where", "two processes")
            session.log_metric("loss", 0.5, step=7)
        assert session.flush(timeout=30)
        session.close()

        def projected() -> bool:
            with psycopg.connect(settings.postgres_dsn) as conn:
                try:
                    row = conn.execute(
                        "SELECT status FROM runs WHERE run_id = %s", (run.info.run_id,)
                    ).fetchone()
                except psycopg.errors.UndefinedTable:  # the worker has not migrated yet
                    return False
            return row == ("FINISHED",)

        wait_until(projected, timeout=60, what="the worker process to project the run")
        wait_until(lambda: port_open("127.0.0.1", query_port), what="the query process")
        with grpc.insecure_channel(f"127.0.0.1:{query_port}") as channel:
            stub = query_pb2_grpc.QueryServiceStub(channel)
            got = stub.GetRun(query_pb2.GetRunRequest(run_id=run.info.run_id)).run
        assert got.info.status == events_pb2.RUN_STATUS_FINISHED
        assert [(p.key, p.value) for p in got.data.params] == [("where", "two processes")]
        assert [(m.key, m.step, m.value) for m in got.data.metrics] == [("loss", 7, 0.5)]
    finally:
        outputs = [stop(process) for process in (ingest, query)]
    assert (ingest.returncode, query.returncode) == (0, 0), outputs
