"""The embedded single-machine stack behind `tracklog up`.

One process owns everything under the data directory: it starts the Tansu
broker (child process), an embedded Postgres server (child process) and chDB
(in process), then runs the ingest worker and the gRPC query service side by
side, because chDB lets only one process own a data directory. On Ctrl-C or
SIGTERM it waits until the worker has drained the topic, then stops the query
service, the worker, the broker and Postgres in that order.

Layout of the data directory:
    pgdata/      Postgres cluster (database `tracklog`)
    chdb/        chDB data (database `tracklog`)
    artifacts/   default artifact root (also MLflow's server's --artifacts-destination)
    archive/     the event archive (Avro files; `tracklog replay` rebuilds from it)
    broker.log   Tansu's output
    mlflow.log   MLflow's server's output (when the mlflow extra is installed)
    tracklog.lock, tracklog-data.json   held and stamped by `tracklog up` (embedded/data_dir.py)

Artifact locations: unless TRACKLOG_ARTIFACT_ROOTS is set, the stack sets it to ``*`` for
its lifetime (any location allowed, so MLflow users keep giving experiments their own
``artifact_location``), as the rest of its stance: loopback only, authentication off. Set
TRACKLOG_ARTIFACT_ROOTS (e.g. to the stack's root) to have locations checked here too.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc

from tracklog.contract.read_model.clickhouse_client import connect as clickhouse_connect
from tracklog.contract.settings import Settings
from tracklog.contract.topics import ensure_topics
from tracklog.deploy import mlflow_server
from tracklog.deploy.embedded.broker import TansuBroker
from tracklog.deploy.embedded.postgres import EmbeddedPostgres, create_database
from tracklog.deploy.processes import stop_process

log = logging.getLogger("tracklog.stack")

DRAIN_TIMEOUT_SECONDS = 120.0
DEFAULT_METRICS_ADDR = "127.0.0.1:9464"  # where `tracklog status` looks by default
ROOTS_VARIABLE = "TRACKLOG_ARTIFACT_ROOTS"


@dataclass
class EmbeddedStack:
    """Start, supervise and stop the whole embedded stack."""

    data_dir: Path
    settings: Settings = field(default_factory=Settings.from_env)
    broker_port: int = 9092
    drain_timeout: float = DRAIN_TIMEOUT_SECONDS
    broker: TansuBroker | None = None
    postgres: EmbeddedPostgres | None = None
    clickhouse: Any = None
    grpc_server: grpc.Server | None = None
    query_port: int = 0
    mlflow: subprocess.Popen[bytes] | None = None
    mlflow_url: str = ""
    _stop: threading.Event = field(default_factory=threading.Event)
    _worker: Any = None
    _worker_thread: threading.Thread | None = None
    _any_location_set: bool = False  # whether start() set TRACKLOG_ARTIFACT_ROOTS=*

    def start(self) -> EmbeddedStack:
        from tracklog.ingest.worker import Worker
        from tracklog.query.server import create_server

        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not os.environ.get(ROOTS_VARIABLE, "").strip():
            os.environ[ROOTS_VARIABLE] = "*"  # the worker, service and mlflow server read it
            self._any_location_set = True
        self.broker = TansuBroker(port=self.broker_port, log_path=self.data_dir / "broker.log")
        self.broker.start()
        self.postgres = EmbeddedPostgres(self.data_dir / "pgdata").start()
        create_database(self.postgres.dsn(), "tracklog")
        kafka = replace(  # one broker: one copy of each partition
            self.settings.kafka,
            bootstrap_servers=self.broker.bootstrap,
            replication_factor=1,
            min_insync_replicas=1,
        )
        self.settings = replace(
            self.settings,
            kafka=kafka,
            postgres_dsn=self.postgres.dsn("tracklog"),
            clickhouse_dsn=f"chdb://{self.data_dir / 'chdb'}",
            artifact_root=self.settings.artifact_root or str(self.data_dir / "artifacts"),
            archive_root=self.settings.archive_root or str(self.data_dir / "archive"),
            metrics_addr=self.settings.metrics_addr or DEFAULT_METRICS_ADDR,
        )
        ensure_topics(kafka)
        self.clickhouse = clickhouse_connect(self.settings.clickhouse_dsn)
        self._worker = Worker(self.settings, self.clickhouse)
        self._worker_thread = threading.Thread(
            target=self._worker.run, args=(self._stop,), name="tracklog-ingest", daemon=True
        )
        self._worker_thread.start()
        self.grpc_server, self.query_port = create_server(
            self.settings.query_addr, self.settings, self.clickhouse
        )
        self.grpc_server.start()
        return self

    def start_mlflow(self, port: int) -> str:
        """MLflow's server and web UI over this stack on 127.0.0.1:`port`; its URL, or ""
        when MLflow is not installed or the server did not start (logged; the stack runs on)."""
        if not mlflow_server.available():
            return ""
        host = "127.0.0.1"
        query = f"{host}:{self.query_port}"
        uri = mlflow_server.store_uri(self.settings, query)
        try:
            self.mlflow = mlflow_server.start(
                uri, self.settings.artifact_root, host, port, self.data_dir / "mlflow.log"
            )
        except RuntimeError as error:
            log.error("MLflow's server did not start (%s); see %s", error, self.data_dir)
            return ""
        self.mlflow_url = f"http://{host}:{port}"
        return self.mlflow_url

    def endpoints(self) -> dict[str, str]:
        host = self.settings.query_addr.rsplit(":", 1)[0]
        return {
            "kafka": self.settings.kafka.bootstrap_servers,
            "events topic": self.settings.kafka.events_topic,
            "registry topic": self.settings.kafka.registry_topic,
            "query (gRPC)": f"{host}:{self.query_port}",
            "postgres": self.settings.postgres_dsn,
            "clickhouse": self.settings.clickhouse_dsn,
            "artifacts": self.settings.artifact_root,
            "event archive": self.settings.archive_root,
            "metrics": f"http://{self._metrics_where()}/metrics",
            "data dir": str(self.data_dir),
            **({"mlflow UI": self.mlflow_url} if self.mlflow_url else {}),
        }

    def _metrics_where(self) -> str:
        server = None if self._worker is None else self._worker.metrics_server
        if server is None:
            return self.settings.metrics_addr
        return f"{server.host}:{server.port}"

    def supervise(self, should_stop: Callable[[], bool], interval: float = 1.0) -> None:
        """Block until should_stop(); restart the broker if it dies meanwhile."""
        while not should_stop():
            broker = self.broker
            if broker is not None and not broker.alive():
                log.error("the broker exited; restarting it (memory storage starts empty)")
                broker.start()
                ensure_topics(self.settings.kafka)
            worker_thread = self._worker_thread
            if worker_thread is not None and not worker_thread.is_alive():
                raise RuntimeError("the ingest worker stopped unexpectedly; see the log above")
            time.sleep(interval)

    def drain(self) -> bool:
        """Wait until the worker has projected everything on the topic."""
        deadline = time.monotonic() + self.drain_timeout
        while time.monotonic() < deadline:
            worker = self._worker
            thread = self._worker_thread
            if worker is None or thread is None or not thread.is_alive():
                return False
            if worker.drained():
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        if self.mlflow is not None:  # first: it writes through the broker and reads the service
            stop_process(self.mlflow, timeout=30)
            self.mlflow = None
        if self._worker is not None and not self.drain():
            lag = self._worker.lag()
            log.warning("stopping before the topic was drained (lag %s)", lag)
        if self.grpc_server is not None:
            self.grpc_server.stop(grace=5).wait()
            self.grpc_server = None
        self._stop.set()
        if self._worker_thread is not None:
            self._worker_thread.join(timeout=60)
            self._worker_thread = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        if self._any_location_set:
            os.environ.pop(ROOTS_VARIABLE, None)
            self._any_location_set = False
