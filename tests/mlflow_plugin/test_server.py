"""MLflow's own server (`mlflow server --backend-store-uri tracklog://...`) over Tracklog.

The server runs as a subprocess over the test's pipeline; MLflow's client talks to it
over http: REST API, artifact proxy (``mlflow-artifacts:``) and the web UI's index.
"""

from __future__ import annotations

import json
import pickle
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.e2e.pipeline import Pipeline
from tests.mlflow_plugin.servers import mlflow_server

pytestmark = pytest.mark.integration

ROUNDS = 30


@pytest.fixture
def server_url(tracking_uri: str, tmp_path: Path, spool_dir: Path) -> Iterator[str]:
    with mlflow_server(tracking_uri, tmp_path, spool_dir, workers=1) as url:
        mlflow.set_tracking_uri(url)
        mlflow.set_registry_uri(url)
        yield url


def _get(url: str) -> Any:
    """One GET on a new connection (so the kernel picks any of the server's workers)."""
    with urllib.request.urlopen(url, timeout=30) as reply:
        return json.loads(reply.read())


def test_a_write_one_worker_answered_is_read_by_any_worker(
    tracking_uri: str, tmp_path: Path, spool_dir: Path
) -> None:
    with mlflow_server(tracking_uri, tmp_path, spool_dir, workers=2) as url:
        client = MlflowClient(url)
        experiment_id = client.create_experiment("fenced")
        for i in range(ROUNDS):
            run_id = client.create_run(experiment_id, run_name=f"r{i}").info.run_id
            client.log_param(run_id, "i", str(i))
            run = _get(f"{url}/api/2.0/mlflow/runs/get?run_id={run_id}")["run"]
            assert run["data"]["params"] == [{"key": "i", "value": str(i)}], i
            client.set_terminated(run_id)
            status = _get(f"{url}/api/2.0/mlflow/runs/get?run_id={run_id}")["run"]["info"]
            assert status["status"] == "FINISHED", i


def test_a_run_another_process_deleted_refuses_the_servers_writes(
    server_url: str, tracking_uri: str
) -> None:
    """The server remembers a run it logged to only briefly: once another process deleted
    the run, the server's writes to it are refused (MLflow's INVALID_PARAMETER_VALUE)."""
    served = MlflowClient(server_url)
    run_id = served.create_run("0").info.run_id
    served.log_metric(run_id, "m", 1.0)  # the server now remembers the run as active
    MlflowClient(tracking_uri).delete_run(run_id)  # another process: tracklog:// here
    deadline = time.monotonic() + 60
    with pytest.raises(MlflowException) as refused:
        while time.monotonic() < deadline:
            served.log_metric(run_id, "m", 2.0)
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "must be in the 'active' state" in refused.value.message


def test_the_guide_over_http_through_mlflows_server(
    server_url: str, pipeline: Pipeline, tmp_path: Path
) -> None:
    experiment = mlflow.set_experiment("served")
    assert experiment.artifact_location.startswith("mlflow-artifacts:")
    with mlflow.start_run(run_name="over-http") as run:
        mlflow.log_params({"lr": 0.05, "depth": 4})
        for step in range(20):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        blob = tmp_path / "weights.pkl"
        blob.write_bytes(pickle.dumps([1, 2, 3]))
        mlflow.log_artifact(str(blob))
    run_id = run.info.run_id

    client = MlflowClient()
    found = client.get_run(run_id)
    assert found.data.params == {"lr": "0.05", "depth": "4"}
    assert found.info.status == "FINISHED" and found.info.run_name == "over-http"
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == list(range(20))
    assert [a.path for a in client.list_artifacts(run_id)] == ["weights.pkl"]
    copy = Path(client.download_artifacts(run_id, "weights.pkl", str(tmp_path / "down")))
    assert pickle.loads(copy.read_bytes()) == [1, 2, 3]
    listed = mlflow.search_runs([experiment.experiment_id], filter_string="params.lr = '0.05'")
    assert list(listed["run_id"]) == [run_id]

    # what the server wrote, in Tracklog's own read model over gRPC
    assert len(pipeline.history(run_id, "loss")) == 20
    assert pipeline.get_run(run_id).info.run_name == "over-http"

    client.create_registered_model("served-model")
    version = client.create_model_version("served-model", f"{run.info.artifact_uri}", run_id)
    assert version.version == "1" and version.status == "READY"
    client.set_registered_model_alias("served-model", "champion", version.version)
    assert client.get_model_version_by_alias("served-model", "champion").version == "1"

    with pytest.raises(MlflowException) as missing:
        client.get_run("f" * 32)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    interval = f"{server_url}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
    with urllib.request.urlopen(
        f"{interval}?run_ids={run_id}&metric_key=loss&max_results=5", timeout=10
    ) as reply:
        sampled = json.loads(reply.read())["metrics"]
    steps = [int(m.get("step", 0)) for m in sampled]
    assert 3 <= len(steps) <= 5 and steps[0] == 0 and steps[-1] == 19
    with urllib.request.urlopen(server_url, timeout=10) as page:
        assert "<title>MLflow</title>" in page.read().decode()
