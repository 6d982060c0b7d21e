"""MLflow's own client on a real Tracklog pipeline (broker, worker, query service).

Each test gets its own topic and databases (the `settings` fixture) and a ``tracklog://``
URI naming them; MLflow's client resolves it through the plugin's entry points.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient

from tests.conftest import Backends
from tests.e2e.pipeline import Pipeline, running_pipeline
from tests.mlflow_plugin.rest import RestServer
from tests.mlflow_plugin.servers import mlflow_server, module_pipeline, store_uri
from tracklog.contract.settings import Settings
from tracklog.mlflow import backend


@pytest.fixture
def pipeline(settings: Settings, clickhouse_client: Any) -> Iterator[Pipeline]:
    with running_pipeline(settings, clickhouse_client) as running:
        yield running


@pytest.fixture
def tracking_uri(
    pipeline: Pipeline, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """MLflow's tracking and registry URI for this test's pipeline, set for the test."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    uri = store_uri(pipeline, settings)
    # set_registry_uri also exports MLFLOW_REGISTRY_URI and set_registry_uri(None) leaves it:
    # set through monkeypatch, it is gone after the test (a later MlflowClient(url) took
    # its registry from a pipeline already stopped)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield uri
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        mlflow.set_registry_uri(None)  # type: ignore[arg-type]
        backend.close_all()


@pytest.fixture(params=["tracklog", "http"])
def guide_uri(
    request: pytest.FixtureRequest, tracking_uri: str, tmp_path: Path, spool_dir: Path
) -> Iterator[str]:
    """The URI the guide's code runs with: the plugin's own, or a server over it."""
    if request.param == "tracklog":
        yield tracking_uri
        return
    with mlflow_server(tracking_uri, tmp_path, spool_dir, workers=1) as url:
        mlflow.set_tracking_uri(url)
        mlflow.set_registry_uri(url)
        yield url


@pytest.fixture(scope="package")
def rest_server(
    backends: Backends,
    tmp_root: Path,
    clickhouse_client: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RestServer]:
    """One `mlflow server` over one pipeline for the REST-semantics modules (starting them
    is the slow part); what it listed first is kept for the "Default" experiment's test."""
    folder = tmp_path_factory.mktemp("rest-semantics")
    with module_pipeline(backends, tmp_root, clickhouse_client, folder) as (_, _, uri):
        try:
            with mlflow_server(uri, folder, folder / "spool", workers=1) as url:
                listing = [e.name for e in MlflowClient(url).search_experiments()]
                yield RestServer(url, folder, listing)
        finally:
            backend.close_all()


@pytest.fixture
def client(rest_server: RestServer) -> MlflowClient:
    """MLflow's client of the REST-semantics server."""
    return MlflowClient(rest_server.url, registry_uri=rest_server.url)
