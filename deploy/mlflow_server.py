"""MLflow's own server (REST API, artifact proxy, web UI) over Tracklog's stores.

`tracklog up` starts it beside the embedded stack when the ``mlflow`` extra is
installed; `tracklog server` runs it against a production deployment. Either way it is
``mlflow server --backend-store-uri tracklog://...``: the ``tracklog.mlflow`` plugin
writes through a Tracklog session and reads through the query service.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from tracklog.contract.settings import Settings
from tracklog.deploy.processes import spawn_server

DEFAULT_PORT = 5000
START_TIMEOUT_SECONDS = 120.0  # MLflow's server imports a lot before it listens


def available() -> bool:
    """True when MLflow (with its server) is installed: ``pip install 'tracklog[mlflow]'``."""
    return importlib.util.find_spec("mlflow") is not None


def store_uri(settings: Settings, query_addr: str | None = None) -> str:
    """The ``tracklog://`` URI naming this deployment's query service, broker and topic."""
    kafka = settings.kafka
    bootstrap = quote(kafka.bootstrap_servers, safe=":,")
    topic = quote(kafka.events_topic, safe="")
    return f"tracklog://{query_addr or settings.query_addr}?bootstrap={bootstrap}&topic={topic}"


def server_argv(
    uri: str, artifacts: str, host: str, port: int, workers: int = 1, extra: list[str] | None = None
) -> list[str]:
    """The ``mlflow server`` command line over `uri`, serving artifacts from `artifacts`."""
    return [
        *(sys.executable, "-m", "mlflow", "server"),
        *("--backend-store-uri", uri),
        *("--artifacts-destination", artifacts),
        *("--host", host, "--port", str(port), "--workers", str(workers)),
        *(extra or []),
    ]


def start(
    uri: str, artifacts: str, host: str, port: int, log_path: Path
) -> subprocess.Popen[bytes]:
    """Start MLflow's server in a child process; return once it accepts connections."""
    env = {"MLFLOW_DISABLE_TELEMETRY": "true"}
    return spawn_server(
        server_argv(uri, artifacts, host, port),
        host,
        port,
        "mlflow server",
        log_path=log_path,
        env=env,
        timeout=START_TIMEOUT_SECONDS,
    )
