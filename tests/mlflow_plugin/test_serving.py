"""The MLflow guide's serving steps on Tracklog: a sklearn model logged and registered
through ``tracklog://``, served by ``mlflow models serve -m models:/my-model/Production``
(the CLI resolves the stage through Tracklog's registry), asked for predictions in each of
MLflow's request formats, and packed into a Docker build context by
``mlflow models generate-dockerfile`` (no Docker engine here: the context is checked).

A second version, trained on the opposite labels and left in Staging, makes a wrong
resolution of the stage or version number visible in the predictions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

from tracklog.deploy.processes import free_port

pytestmark = pytest.mark.integration

SERVE_DEADLINE = 180.0  # seconds: downloading the model and starting uvicorn, on a busy machine
COLUMNS = ["f0", "f1", "f2", "f3"]


@dataclass(frozen=True, slots=True)
class Registered:
    production: LogisticRegression  # my-model v1 (v2, in Staging, has the opposite labels)
    production_model_id: str
    rows: pd.DataFrame  # eight rows both versions answer, differently


def _log_version(features: pd.DataFrame, labels: pd.Series) -> tuple[LogisticRegression, str]:
    model = LogisticRegression(max_iter=200).fit(features, labels)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            artifact_path="model",
            registered_model_name="my-model",
            serialization_format="cloudpickle",  # mlflow >= 3.17's default (skops) refuses it
            signature=infer_signature(features, model.predict(features)),
        )
    return model, info.model_id


def _register_two_versions() -> Registered:
    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.normal(size=(60, 4)), columns=COLUMNS)
    labels = (features["f0"] + features["f1"] > 0).astype(int)
    mlflow.set_experiment("serving")
    production, production_id = _log_version(features, labels)
    staging, _ = _log_version(features, 1 - labels)
    client = MlflowClient()
    client.transition_model_version_stage("my-model", "1", "Production")
    client.transition_model_version_stage("my-model", "2", "Staging")
    rows = features.iloc[:8]
    expected = production.predict(rows).tolist()
    assert set(expected) == {0, 1}  # both classes, so a constant answer cannot pass
    assert staging.predict(rows).tolist() != expected
    return Registered(production, production_id, rows)


def _cli_env(tracking_uri: str, spool: Path) -> dict[str, str]:
    """The CLI's environment: this venv first on PATH (the server execs `uvicorn`).

    Without GRPC_ENABLE_FORK_SUPPORT: `models serve` forks uvicorn with a ``preexec_fn``
    while the plugin's gRPC channel is open; importing tracklog turns gRPC's fork handlers
    off (they abort such a child now and then), and the CLI must get that from tracklog."""
    venv_bin = str(Path(sys.executable).parent)
    inherited = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    return {
        **inherited,
        "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")]),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_REGISTRY_URI": tracking_uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "TRACKLOG_SPOOL_DIR": str(spool),
    }


def _wait_for_ping(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVE_DEADLINE
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"model server exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"model server at {url} silent after {SERVE_DEADLINE}s:\n{log.read_text()}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (uvicorn too), SIGKILL if it lingers."""
    with suppress(ProcessLookupError):  # the group is gone when the server died first
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    server.wait()


@contextmanager
def _model_server(model_uri: str, env: dict[str, str], workdir: Path) -> Iterator[str]:
    """`mlflow models serve` in its own process group (it starts uvicorn as a child)."""
    port = free_port()
    log = workdir / "serve.log"
    command = [
        *(sys.executable, "-m", "mlflow", "models", "serve"),
        *("-m", model_uri, "-p", str(port), "--env-manager", "local"),
    ]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command,
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_ping(url, server, log)
        yield url
    finally:
        _stop(server)


def _predictions(url: str, body: str, content_type: str) -> list[Any]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body.encode(), headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            answer = json.loads(reply.read())
    except urllib.error.HTTPError as refused:
        pytest.fail(f"{content_type} {body[:80]!r}: {refused.code} {refused.read()!r}")
    return list(answer["predictions"])


def test_models_serve_answers_every_input_format(tracking_uri: str, tmp_path: Path) -> None:
    registered = _register_two_versions()
    rows = registered.rows
    expected = registered.production.predict(rows).tolist()
    records = rows.to_dict(orient="records")
    bodies = {
        "dataframe_split": {"dataframe_split": rows.to_dict(orient="split")},
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs": {"inputs": rows.to_dict(orient="list")},  # columns, as the signature says
    }
    workdir = tmp_path / "serve"  # no folder in cwd shadows an installed package
    workdir.mkdir()
    env = _cli_env(tracking_uri, tmp_path / "serve-spool")
    with _model_server("models:/my-model/Production", env, workdir) as url:
        for name, body in bodies.items():
            assert _predictions(url, json.dumps(body), "application/json") == expected, name
        csv = rows.to_csv(index=False)
        assert _predictions(url, csv, "text/csv") == expected, "csv"
        single = rows.iloc[[1]].to_dict(orient="split")
        one = _predictions(url, json.dumps({"dataframe_split": single}), "application/json")
        assert one == expected[1:2]


def test_generate_dockerfile_writes_a_build_context(tracking_uri: str, tmp_path: Path) -> None:
    registered = _register_two_versions()
    workdir = tmp_path / "docker"
    workdir.mkdir()
    context = workdir / "ctx"
    command = [
        *(sys.executable, "-m", "mlflow", "models", "generate-dockerfile"),
        *("-m", "models:/my-model/1", "-d", str(context), "--env-manager", "local"),
    ]
    env = _cli_env(tracking_uri, tmp_path / "docker-spool")
    done = subprocess.run(command, env=env, cwd=workdir, capture_output=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr).decode()

    dockerfile = (context / "Dockerfile").read_text()
    assert "COPY model_dir /opt/ml/model" in dockerfile
    assert dockerfile.splitlines()[-1].startswith("ENTRYPOINT ")
    model_dir = context / "model_dir"
    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text())
    assert mlmodel["model_id"] == registered.production_model_id
    assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "cloudpickle"
    meta = yaml.safe_load((model_dir / "registered_model_meta").read_text())
    assert meta == {"model_name": "my-model", "model_version": "1"}
    packed = mlflow.pyfunc.load_model(str(model_dir))
    expected = registered.production.predict(registered.rows).tolist()
    assert np.asarray(packed.predict(registered.rows)).tolist() == expected
