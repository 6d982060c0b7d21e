"""A running pipeline (worker thread + gRPC server) and a registry client talking to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.pipeline import Pipeline, running_pipeline
from tracklog import RegistryClient
from tracklog.contract.settings import Settings


@pytest.fixture
def pipeline(settings: Settings, clickhouse_client: Any) -> Iterator[Pipeline]:
    with running_pipeline(settings, clickhouse_client) as running:
        yield running


@pytest.fixture
def client(pipeline: Pipeline) -> Iterator[RegistryClient]:
    with RegistryClient(pipeline.address, timeout=30) as client:
        yield client
