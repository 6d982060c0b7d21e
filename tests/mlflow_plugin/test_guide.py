"""The MLflow guide's tracking code, unchanged but for the tracking URI, run twice: with
``tracklog://`` in the training process and through MLflow's server over http.

Experiments, named and nested runs with scikit-learn's cross-validation, an Optuna study
with one nested run per trial, and an MLproject launched by ``mlflow run`` in a
subprocess. Each test reads back what it wrote through MlflowClient and through
Tracklog's gRPC (`tracklog.TracklogClient`)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import mlflow
import optuna
import pytest
from mlflow import MlflowClient
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score

from tests.e2e.pipeline import Pipeline, wait_until
from tracklog import TracklogClient
from tracklog.client.entities import Run

pytestmark = pytest.mark.integration

PARENT_TAG = "mlflow.parentRunId"
ENTRY_POINT_TAG = "mlflow.project.entryPoint"


def test_experiment_named_and_nested_runs_with_cross_validation(
    guide_uri: str, pipeline: Pipeline
) -> None:
    experiment = mlflow.set_experiment("iris-classification")
    features, labels = load_iris(return_X_y=True)
    params = {"C": 1.0, "max_iter": 500}
    with mlflow.start_run(run_name="logreg-cv") as run:
        scores = cross_val_score(LogisticRegression(**params), features, labels, cv=5)
        mlflow.log_params(params)
        mlflow.log_metric("cv_accuracy_mean", scores.mean())
        mlflow.log_metric("cv_accuracy_std", scores.std())
    child_scores: dict[str, float] = {}
    with mlflow.start_run(run_name="c-sweep") as parent:
        mlflow.log_param("cv_folds", 5)
        for c in (0.01, 1.0):
            with mlflow.start_run(run_name=f"C={c}", nested=True):
                model = LogisticRegression(C=c, max_iter=500)
                mean = cross_val_score(model, features, labels, cv=5).mean()
                mlflow.log_param("C", c)
                mlflow.log_metric("cv_accuracy_mean", mean)
                child_scores[f"C={c}"] = mean
    experiment_id, run_id, parent_id = experiment.experiment_id, run.info.run_id, parent.info.run_id
    assert experiment.name == "iris-classification"
    assert 0.9 < scores.mean() <= 1.0 and scores.std() > 0.0  # a real cross-validation

    client = MlflowClient()
    by_name = client.get_experiment_by_name("iris-classification")
    assert by_name is not None and by_name.experiment_id == experiment_id
    found = client.get_run(run_id)
    assert (found.info.run_name, found.info.status) == ("logreg-cv", "FINISHED")
    assert found.info.experiment_id == experiment_id
    assert found.data.params == {"C": "1.0", "max_iter": "500"}
    expected = {"cv_accuracy_mean": scores.mean(), "cv_accuracy_std": scores.std()}
    assert found.data.metrics == expected
    children = client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    assert {r.info.run_name: r.data.metrics["cv_accuracy_mean"] for r in children} == child_scores
    assert {r.data.params["C"] for r in children} == {"0.01", "1.0"}
    assert client.get_run(parent_id).data.params == {"cv_folds": "5"}
    assert PARENT_TAG not in client.get_run(parent_id).data.tags

    native = TracklogClient(pipeline.address)
    try:
        mine = native.get_run(run_id)
        assert (mine.info.run_name, mine.info.status) == ("logreg-cv", "FINISHED")
        assert mine.info.parent_run_id is None
        assert dict(mine.data.params) == {"C": "1.0", "max_iter": "500"}
        assert dict(mine.data.metrics) == expected
        history = native.get_metric_history(run_id, "cv_accuracy_std")
        assert [(m.step, m.value) for m in history] == [(0, scores.std())]
        nested = native.search_runs(
            [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
        )
        assert {r.info.run_name: r.info.parent_run_id for r in nested} == {
            "C=0.01": parent_id,
            "C=1.0": parent_id,
        }
        named = native.search_runs([experiment_id], filter_string="attributes.run_name = 'c-sweep'")
        assert [r.info.run_id for r in named] == [parent_id]
    finally:
        native.close()


def test_optuna_study_with_a_nested_run_per_trial(guide_uri: str, pipeline: Pipeline) -> None:
    experiment_id = mlflow.set_experiment("optuna-ridge").experiment_id
    features, labels = load_diabetes(return_X_y=True)

    def objective(trial: optuna.Trial) -> float:
        with mlflow.start_run(nested=True):
            params = {
                "alpha": trial.suggest_float("alpha", 1e-3, 10.0, log=True),
                "solver": trial.suggest_categorical("solver", ["auto", "svd", "cholesky"]),
            }
            score = float(cross_val_score(Ridge(**params), features, labels, cv=3).mean())
            mlflow.log_params(params)
            mlflow.log_metric("r2", score)
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with mlflow.start_run(run_name="optuna-study") as parent:
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=42)
        )
        study.optimize(objective, n_trials=10)
        mlflow.log_params(study.best_params)
        mlflow.log_metric("best_score", study.best_value)
    parent_id = parent.info.run_id
    best_params = {k: str(v) for k, v in study.best_params.items()}
    assert len(study.trials) == 10

    by_parent = f"tags.mlflow.parentRunId = '{parent_id}'"
    client = MlflowClient()
    children = client.search_runs([experiment_id], filter_string=by_parent, max_results=100)
    assert len(children) == 10
    assert {r.data.tags[PARENT_TAG] for r in children} == {parent_id}
    assert {r.info.status for r in children} == {"FINISHED"}
    _assert_best_child(client.get_run(parent_id), children, study.best_value, best_params)
    trial_scores = sorted(t.value for t in study.trials if t.value is not None)
    assert sorted(r.data.metrics["r2"] for r in children) == trial_scores
    ordered = client.search_runs(
        [experiment_id], filter_string=by_parent, order_by=["metrics.r2 DESC"], max_results=1
    )
    assert ordered[0].data.params == best_params

    native = TracklogClient(pipeline.address)
    try:
        mine = native.search_runs([experiment_id], filter_string=by_parent)
        assert len(mine) == 10
        assert {r.info.parent_run_id for r in mine} == {parent_id}
        assert {r.data.tags[PARENT_TAG] for r in mine} == {parent_id}
        stored = native.get_run(parent_id)
        _assert_best_child(stored, list(mine), study.best_value, best_params)
        history = native.get_metric_history(parent_id, "best_score")
        assert [m.value for m in history] == [study.best_value]
        best = native.search_runs(
            [experiment_id], filter_string=f"metrics.r2 = {study.best_value!r}"
        )
        assert [r.info.parent_run_id for r in best] == [parent_id]
        assert dict(best[0].data.params) == best_params
    finally:
        native.close()


def _assert_best_child(
    parent: Any, children: list[Any], best_value: float, best_params: dict[str, str]
) -> None:
    """The parent's best_score and params are those of its best child (MLflow or Tracklog
    runs: both have `.data.metrics` and `.data.params`)."""
    best_child = max(children, key=lambda r: r.data.metrics["r2"])
    assert parent.data.metrics == {"best_score": best_value}
    assert best_child.data.metrics["r2"] == best_value
    assert dict(parent.data.params) == dict(best_child.data.params) == best_params


MLPROJECT = """\
name: guide-project

python_env: python_env.yaml

entry_points:
  main:
    parameters:
      learning_rate: {type: float, default: 0.01}
      max_depth: {type: int, default: 5}
    command: "python train.py --learning-rate {learning_rate} --max-depth {max_depth}"
  validate:
    parameters:
      threshold: {type: float, default: 0.9}
    command: "python validate.py --threshold {threshold}"
"""

PYTHON_ENV = """\
python: "3.11"
dependencies:
  - mlflow
"""

TRAIN = """\
import argparse

import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--learning-rate", type=float)
parser.add_argument("--max-depth", type=int)
args = parser.parse_args()
with mlflow.start_run():
    for step in range(3):
        mlflow.log_metric("loss", args.learning_rate * args.max_depth / (step + 1), step=step)
"""

VALIDATE = """\
import argparse

import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--threshold", type=float)
args = parser.parse_args()
with mlflow.start_run():
    mlflow.log_metric("passed", 1.0 if args.threshold < 1.0 else 0.0)
"""


def _project(folder: Path) -> Path:
    folder.mkdir()
    for name, text in {
        "MLproject": MLPROJECT,
        "python_env.yaml": PYTHON_ENV,
        "train.py": TRAIN,
        "validate.py": VALIDATE,
    }.items():
        (folder / name).write_text(text)
    return folder


def _mlflow_run(uri: str, project: Path, cwd: Path, spool: Path, *args: str) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    env |= {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "TRACKLOG_SPOOL_DIR": str(spool),
        # the entry point's `python` is this interpreter
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    }
    command = [sys.executable, "-m", "mlflow", "run", str(project), *args, "--env-manager", "local"]
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, textwrap.shorten(done.stderr, 4000)


def test_mlflow_run_of_an_mlproject_records_params_and_entry_point(
    guide_uri: str, pipeline: Pipeline, tmp_path: Path
) -> None:
    project = _project(tmp_path / "guide-project")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    spool = tmp_path / "project-spool"
    _mlflow_run(guide_uri, project, cwd, spool / "main", "-P", "learning_rate=0.05")
    _mlflow_run(guide_uri, project, cwd, spool / "validate", "-e", "validate")

    native = TracklogClient(pipeline.address)
    try:
        # the runs were written by other processes: wait until both are projected as ended
        def finished() -> list[Run]:
            runs = native.search_runs(["0"], filter_string="attributes.status = 'FINISHED'")
            return list(runs) if len(runs) == 2 else []

        runs = {r.data.tags[ENTRY_POINT_TAG]: r for r in wait_until(finished, what="2 runs")}
        assert set(runs) == {"main", "validate"}
        main, validate = runs["main"], runs["validate"]
        assert dict(main.data.params) == {"learning_rate": "0.05", "max_depth": "5"}
        assert dict(validate.data.params) == {"threshold": "0.9"}
        assert main.data.tags["mlflow.source.type"] == "PROJECT"
        assert dict(main.data.metrics) == {"loss": 0.05 * 5 / 3}
        assert dict(validate.data.metrics) == {"passed": 1.0}
        history = native.get_metric_history(main.info.run_id, "loss")
        assert [(m.step, m.value) for m in history] == [(s, 0.05 * 5 / (s + 1)) for s in range(3)]
        by_tag = native.search_runs(["0"], filter_string="tags.mlflow.project.entryPoint = 'main'")
        assert [r.info.run_id for r in by_tag] == [main.info.run_id]
    finally:
        native.close()

    client = MlflowClient()
    for entry_point, mine in runs.items():
        theirs = client.get_run(mine.info.run_id)
        assert theirs.info.status == "FINISHED" and theirs.info.end_time is not None
        assert theirs.data.tags[ENTRY_POINT_TAG] == entry_point
        assert theirs.data.params == dict(mine.data.params)
        assert theirs.data.metrics == dict(mine.data.metrics)
    found = client.search_runs(
        ["0"],
        filter_string="tags.mlflow.project.entryPoint = 'validate' and params.threshold = '0.9'",
    )
    assert [r.info.run_id for r in found] == [runs["validate"].info.run_id]
    lr = client.search_runs(["0"], filter_string="params.learning_rate = '0.05'")
    assert [r.data.params["max_depth"] for r in lr] == ["5"]
