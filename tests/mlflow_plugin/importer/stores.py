"""Real MLflow stores filled through MLflow's client, for the importer's tests.

`fill(uri)` writes: two experiments (one with tags), a parent run with two nested
children, params, tags, NaN and infinite metric values over several steps, a FAILED
run, a deleted run, a deleted experiment, a run's artifacts, and a registry with one
model whose version 2 is deleted, a stage and an alias; a dataset input and an MLflow 3
logged model (with a metric, an output of the parent run). The registry is then aged in
the store's own files or tables (`age_registry`: MLflow's client cannot set these): the
model and its versions created in 2020, versions by named users, version 3
FAILED_REGISTRATION with a status message.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput

MODEL = "churn-model"


@dataclass(frozen=True, slots=True)
class Filled:
    uri: str
    experiment_ids: list[str]
    run_ids: list[str]
    parent_id: str
    deleted_run_id: str


def fill(uri: str, workdir: Path, registry: bool = True, store: str = "") -> Filled:
    """Fill the store at ``uri`` (``store``: the sqlite URI behind it when ``uri`` is a
    server's, where the registry is aged)."""
    client = MlflowClient(uri, registry_uri=uri)
    exp = client.create_experiment("imported", tags={"team": "fraud", "mlflow.note.content": "n"})
    other = client.create_experiment("gone")
    parent = client.create_run(exp, run_name="parent", tags={"kind": "sweep"})
    pid = parent.info.run_id
    client.log_param(pid, "lr", "0.1")
    client.log_param(pid, "layers", "3")
    for step in range(50):
        client.log_metric(
            pid, "loss", 1.0 / (step + 1), step=step, timestamp=1_700_000_000_000 + step
        )
    client.log_metric(pid, "odd", math.nan, step=0, timestamp=1_700_000_000_000)
    client.log_metric(pid, "odd", math.inf, step=1, timestamp=1_700_000_000_001)
    client.log_metric(pid, "odd", -math.inf, step=2, timestamp=1_700_000_000_002)
    client.log_metric(pid, "odd", 2.5, step=2, timestamp=1_700_000_000_003)
    artifact = workdir / "notes.txt"
    artifact.write_text("hello from mlflow\n")
    client.log_artifact(pid, str(artifact))
    client.log_artifact(pid, str(artifact), artifact_path="sub/dir")
    dataset = Dataset("train", "d1g3st", "local", '{"uri": "/data/train.csv"}', "", "")
    client.log_inputs(pid, [DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])])
    model = client.create_logged_model(
        exp, name="clf", source_run_id=pid, tags={"flavor": "sk"}, params={"alpha": "1"}
    )
    client.log_metric(pid, "auc", 0.9, step=0, timestamp=1_700_000_000_100, model_id=model.model_id)
    client.finalize_logged_model(model.model_id, "READY")
    client.log_outputs(pid, [LoggedModelOutput(model.model_id, 0)])
    children = []
    for n in range(2):
        child = client.create_run(exp, run_name=f"child-{n}", tags={"mlflow.parentRunId": pid})
        client.log_metric(child.info.run_id, "acc", 0.5 + n / 10, step=0)
        client.set_terminated(child.info.run_id, "FINISHED" if n == 0 else "FAILED")
        children.append(child.info.run_id)
    client.set_terminated(pid, "FINISHED")
    doomed = client.create_run(exp, run_name="doomed")
    client.log_param(doomed.info.run_id, "x", "1")
    client.set_terminated(doomed.info.run_id, "KILLED")
    client.delete_run(doomed.info.run_id)
    gone_run = client.create_run(other, run_name="in-gone")
    client.set_terminated(gone_run.info.run_id)
    client.delete_experiment(other)
    if registry:
        client.create_registered_model(MODEL, tags={"owner": "ml"}, description="churn")
        for _ in range(3):
            client.create_model_version(MODEL, f"runs:/{pid}/model", run_id=pid)
        client.delete_model_version(MODEL, "2")
        client.set_model_version_tag(MODEL, "3", "validated", "yes")
        client.update_model_version(MODEL, "3", description="the good one")
        client.transition_model_version_stage(MODEL, "1", "Staging")
        client.set_registered_model_alias(MODEL, "champion", "3")
        age_registry(store or uri)
    run_ids = [pid, *children, doomed.info.run_id, gone_run.info.run_id]
    return Filled(uri, [exp, other], run_ids, pid, doomed.info.run_id)


MODEL_CREATED_MS = 1_600_000_000_000
# version -> what the store is made to hold (MLflow's client sets none of these)
AGED_VERSIONS: dict[int, dict[str, Any]] = {
    1: {"creation_timestamp": MODEL_CREATED_MS + 100_000, "user_id": "bob"},
    3: {
        "creation_timestamp": MODEL_CREATED_MS + 300_000,
        "user_id": "alice",
        "status": "FAILED_REGISTRATION",
        "status_message": "the model files could not be copied",
    },
}


def age_registry(uri: str) -> None:
    """Set the registry's creation times, users and a failed status in the store itself."""
    if uri.startswith("sqlite:///"):
        with sqlite3.connect(uri.removeprefix("sqlite:///")) as db:
            db.execute(
                "UPDATE registered_models SET creation_time = ? WHERE name = ?",
                (MODEL_CREATED_MS, MODEL),
            )
            for number, fields in AGED_VERSIONS.items():
                columns = {k.replace("_timestamp", "_time"): v for k, v in fields.items()}
                assignments = ", ".join(f"{column} = ?" for column in columns)
                db.execute(
                    f"UPDATE model_versions SET {assignments} WHERE name = ? AND version = ?",
                    (*columns.values(), MODEL, number),
                )
        return
    models = Path(urlparse(uri).path) / "models" / MODEL
    _update_yaml(models / "meta.yaml", {"creation_timestamp": MODEL_CREATED_MS})
    for number, fields in AGED_VERSIONS.items():
        _update_yaml(models / f"version-{number}" / "meta.yaml", fields)


def _update_yaml(path: Path, fields: dict[str, Any]) -> None:
    meta = yaml.safe_load(path.read_text())
    meta.update(fields)
    path.write_text(yaml.safe_dump(meta))
