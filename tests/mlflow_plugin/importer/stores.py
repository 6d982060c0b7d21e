"""Real MLflow stores filled through MLflow's client, for the importer's tests.

`fill(uri)` writes: two experiments (one with tags), a parent run with two nested
children, params, tags, NaN and infinite metric values over several steps, a FAILED
run, a deleted run, a deleted experiment, a run's artifacts, and a registry with one
model whose version 2 is deleted, a stage and an alias; a dataset input and an MLflow 3
logged model (with a metric, an output of the parent run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

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


def fill(uri: str, workdir: Path, registry: bool = True) -> Filled:
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
    run_ids = [pid, *children, doomed.info.run_id, gone_run.info.run_id]
    return Filled(uri, [exp, other], run_ids, pid, doomed.info.run_id)
