"""`mlflow server --backend-store-uri tracklog://...` as a subprocess, for the tests, and the
pipeline a module's server runs over."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Backends, settings_on
from tests.e2e.pipeline import Pipeline, running_pipeline
from tracklog.contract.settings import Settings
from tracklog.deploy.processes import free_port


def store_uri(pipeline: Pipeline, settings: Settings) -> str:
    """The ``tracklog://`` URI of a test pipeline (its query service, broker and topic)."""
    kafka = settings.kafka
    query = f"bootstrap={kafka.bootstrap_servers}&topic={kafka.events_topic}"
    return f"tracklog://{pipeline.address}?{query}"


@contextmanager
def module_pipeline(
    backends: Backends, tmp_root: Path, clickhouse_client: Any, folder: Path
) -> Iterator[tuple[Pipeline, Settings, str]]:
    """A pipeline of its own for a test module (the conftest's are per test), with the
    spool under ``folder`` and MLflow's telemetry off; (pipeline, settings, store URI)."""
    settings = settings_on(backends, tmp_root, backends.bootstrap)
    with (
        pytest.MonkeyPatch.context() as env,
        running_pipeline(settings, clickhouse_client) as pipeline,
    ):
        env.setenv("TRACKLOG_SPOOL_DIR", str(folder / "spool"))
        env.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        yield pipeline, settings, store_uri(pipeline, settings)


def wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mlflow server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise AssertionError(f"mlflow server at {url} not healthy after {timeout}s")


@contextmanager
def mlflow_server(store_uri: str, tmp_path: Path, spool_dir: Path, workers: int) -> Iterator[str]:
    """`mlflow server` over `store_uri` in a subprocess; its URL once healthy."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "mlflow-server.log").open("wb")
    env = {**os.environ, "TRACKLOG_SPOOL_DIR": str(spool_dir / "server")}
    command = [
        *(sys.executable, "-m", "mlflow", "server"),
        *("--backend-store-uri", store_uri),
        *("--artifacts-destination", str(tmp_path / "served-artifacts")),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
    ]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
