"""Real MLflow stores filled through MLflow's client, for the importer's tests.

`fill(uri)` writes: two experiments (one with tags), a parent run with two nested
children, params, tags, NaN and infinite metric values over several steps, a FAILED
run, a deleted run, a deleted experiment, a run's artifacts, and a registry with one
model whose version 2 is deleted, a stage and an alias; a dataset input and an MLflow 3
logged model (with a metric and files, an output of the parent run). The registry is
then aged in the store's own files or tables (`age_registry`: MLflow's client cannot set
these): the model and its versions created and last updated in 2020, versions by named
users, version 3 FAILED_REGISTRATION with a status message in Production, version 4
PENDING_REGISTRATION in Staging by no user.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import yaml
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput
from sqlalchemy.engine import make_url

from tracklog.mlflow.importer.source import database_uri, tracking_uri_at

MODEL = "churn-model"


@dataclass(frozen=True, slots=True)
class Filled:
    uri: str
    experiment_ids: list[str]
    run_ids: list[str]
    parent_id: str
    deleted_run_id: str


def fill(uri: str, workdir: Path, registry: bool = True, store: str = "") -> Filled:
    """Fill the store at ``uri`` (``store``: the database URI behind it when ``uri`` is a
    server's, where the registry is aged)."""
    # MLflow's file registry store reads versions' logged models through the global
    # tracking URI, by default sqlite:///mlflow.db in the current directory
    around = tracking_uri_at(uri) if uri.startswith("file:") else contextlib.nullcontext()
    with around:
        opened = database_uri(uri)  # postgresql:// read with psycopg 3, as the importer does
        return _fill(MlflowClient(opened, registry_uri=opened), uri, workdir, registry, store)


def _fill(client: MlflowClient, uri: str, workdir: Path, registry: bool, store: str) -> Filled:
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
    model_files = workdir / "model-files"
    (model_files / "data").mkdir(parents=True)
    (model_files / "MLmodel").write_text("flavors: {}\n")
    (model_files / "data" / "weights.bin").write_bytes(b"\x00\x01" * 100)
    client.log_model_artifacts(model.model_id, str(model_files))
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
        for _ in range(4):
            client.create_model_version(MODEL, f"runs:/{pid}/model", run_id=pid)
        client.delete_model_version(MODEL, "2")
        client.set_model_version_tag(MODEL, "3", "validated", "yes")
        client.update_model_version(MODEL, "3", description="the good one")
        client.transition_model_version_stage(MODEL, "1", "Staging")
        client.transition_model_version_stage(MODEL, "3", "Production")
        client.transition_model_version_stage(MODEL, "4", "Staging")
        client.set_registered_model_alias(MODEL, "champion", "3")
        age_registry(store or uri)
    run_ids = [pid, *children, doomed.info.run_id, gone_run.info.run_id]
    return Filled(uri, [exp, other], run_ids, pid, doomed.info.run_id)


MODEL_CREATED_MS = 1_600_000_000_000
MODEL_UPDATED_MS = MODEL_CREATED_MS + 900_000  # before version 4's last update: MLflow's
# version -> what the store is made to hold (MLflow's client sets none of these)
AGED_VERSIONS: dict[int, dict[str, Any]] = {
    1: {
        "creation_timestamp": MODEL_CREATED_MS + 100_000,
        "last_updated_timestamp": MODEL_CREATED_MS + 150_000,
        "user_id": "bob",
    },
    3: {
        "creation_timestamp": MODEL_CREATED_MS + 300_000,
        "last_updated_timestamp": MODEL_CREATED_MS + 350_000,
        "user_id": "alice",
        "status": "FAILED_REGISTRATION",
        "status_message": "the model files could not be copied",
    },
    4: {
        "creation_timestamp": MODEL_CREATED_MS + 400_000,
        "last_updated_timestamp": MODEL_CREATED_MS + 950_000,
        "user_id": None,
        "status": "PENDING_REGISTRATION",
    },
}
AGED_MODEL = {"creation_timestamp": MODEL_CREATED_MS, "last_updated_timestamp": MODEL_UPDATED_MS}


def age_registry(uri: str) -> None:
    """Set the registry's times, users and statuses in the store itself."""
    if uri.startswith(("sqlite:", "postgresql")):
        with _database(uri) as execute:
            execute(
                "UPDATE registered_models SET creation_time = ?, last_updated_time = ?"
                " WHERE name = ?",
                (MODEL_CREATED_MS, MODEL_UPDATED_MS, MODEL),
            )
            for number, fields in AGED_VERSIONS.items():
                columns = {k.replace("_timestamp", "_time"): v for k, v in fields.items()}
                assignments = ", ".join(f"{column} = ?" for column in columns)
                execute(
                    f"UPDATE model_versions SET {assignments} WHERE name = ? AND version = ?",
                    (*columns.values(), MODEL, number),
                )
        return
    models = Path(urlparse(uri).path) / "models" / MODEL
    _update_yaml(models / "meta.yaml", AGED_MODEL)
    for number, fields in AGED_VERSIONS.items():
        _update_yaml(models / f"version-{number}" / "meta.yaml", fields)


@contextlib.contextmanager
def _database(uri: str) -> Iterator[Any]:
    """execute(sql with ? placeholders, params) on the MLflow database at ``uri``,
    committed at the end."""
    if uri.startswith("sqlite:"):
        with sqlite3.connect(uri.removeprefix("sqlite:///")) as db:
            yield db.execute
        return
    plain = make_url(uri).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as pg:
        yield lambda sql, params: pg.execute(sql.replace("?", "%s"), params)


def _update_yaml(path: Path, fields: dict[str, Any]) -> None:
    meta = yaml.safe_load(path.read_text())
    meta.update(fields)
    path.write_text(yaml.safe_dump(meta))
