"""Fault-injection fixtures: a durable broker that may be SIGKILLed and restarted.

`durable_broker` is Tansu with its ``s3://`` storage on a local S3 server (moto's
server mode, one per session, in a child process); every acknowledged record
survives a broker kill, as with a real Kafka. `durable_settings` is the normal
`settings` fixture pointed at that broker (Postgres and chDB as usual).

Other fault tests add their own fixtures here: keep this module additive.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Backends, settings_on
from tests.faults.s3_server import MotoS3Server
from tracklog.contract.settings import Settings
from tracklog.deploy.embedded.broker import TansuBroker, s3_environment
from tracklog.deploy.processes import free_port

DURABLE_FETCH_MAX_WAIT_MS = 200


@pytest.fixture(scope="session")
def moto_s3(tmp_root: Path) -> Iterator[MotoS3Server]:
    server = MotoS3Server(log_path=tmp_root / "moto.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def durable_broker(moto_s3: MotoS3Server, tmp_root: Path) -> Iterator[TansuBroker]:
    """A Tansu on s3 storage (its own bucket) on a free port; `kill()` then `start()` it."""
    bucket = f"tansu-{uuid.uuid4().hex[:10]}"
    moto_s3.create_bucket(bucket)
    broker = TansuBroker(
        port=free_port(),
        storage=f"s3://{bucket}/",
        env=s3_environment(moto_s3.endpoint),
        log_path=tmp_root / f"{bucket}.log",
    ).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def durable_settings(durable_broker: TansuBroker, backends: Backends, tmp_root: Path) -> Settings:
    """As `settings`, on `durable_broker`: own topic, group, Postgres and ClickHouse databases."""
    # Tansu's s3 storage answers a fetch with what it read within the fetch's max wait:
    # at the default 10 ms that is often nothing, for ever (a consumer then starves).
    return settings_on(
        backends,
        tmp_root,
        durable_broker.bootstrap,
        fetch_max_wait_ms=DURABLE_FETCH_MAX_WAIT_MS,
    )
