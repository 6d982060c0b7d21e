"""The MLflow guide's tracking code, unchanged but for the URI, on Tracklog.

It reads back what it wrote through MLflow's client and through Tracklog's gRPC service.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

import tracklog
from tests.e2e.pipeline import Pipeline
from tracklog.mlflow import backend
from tracklog.mlflow.tracking_store import TracklogTrackingStore

pytestmark = pytest.mark.integration


def test_params_metrics_tags_and_artifacts_read_back(
    tracking_uri: str, pipeline: Pipeline, tmp_path: Path
) -> None:
    mlflow.set_experiment("guide")
    with mlflow.start_run(run_name="baseline") as run:
        mlflow.log_param("learning_rate", 0.01)
        mlflow.log_params({"max_depth": 5, "optimizer": "adam"})
        for step in range(50):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"accuracy": 0.9, "f1": 0.8})
        mlflow.set_tag("team", "vision")
        model_file = tmp_path / "model.pkl"
        model_file.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
        mlflow.log_artifact(str(model_file))
        figure, axes = plt.subplots()
        axes.plot([1, 2, 3], [3, 1, 2])
        png = tmp_path / "curve.png"
        figure.savefig(png)
        plt.close(figure)
        mlflow.log_artifact(str(png), artifact_path="plots")
        assert mlflow.get_artifact_uri() == run.info.artifact_uri != ""
    run_id = run.info.run_id

    client = MlflowClient()
    found = client.get_run(run_id)
    assert found.info.run_name == "baseline"
    assert found.info.status == "FINISHED"
    assert found.info.end_time is not None
    assert found.data.params == {"learning_rate": "0.01", "max_depth": "5", "optimizer": "adam"}
    assert found.data.metrics == {"loss": 1.0 / 50, "accuracy": 0.9, "f1": 0.8}
    assert found.data.tags["team"] == "vision"
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(50))
    assert [m.value for m in history] == [1.0 / (s + 1) for s in range(50)]
    assert {a.path for a in client.list_artifacts(run_id)} == {"model.pkl", "plots"}
    assert [a.path for a in client.list_artifacts(run_id, "plots")] == ["plots/curve.png"]
    copy = Path(client.download_artifacts(run_id, "model.pkl", str(tmp_path / "down")))
    assert pickle.loads(copy.read_bytes()) == {"weights": [1, 2, 3]}
    png_copy = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="plots"))
    assert (png_copy / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    stored = pipeline.get_run(run_id)  # Tracklog's own read model, over gRPC
    assert {p.key: p.value for p in stored.data.params}["max_depth"] == "5"
    assert len(pipeline.history(run_id, "loss")) == 50
    assert stored.info.run_name == "baseline"


def test_paged_metric_history(tracking_uri: str) -> None:
    with mlflow.start_run() as run:
        mlflow.log_metrics({"a": 0.0})
        for step in range(1, 25):
            mlflow.log_metric("a", float(step), step=step)
    store = MlflowClient()._tracking_client.store
    first = store.get_metric_history(run.info.run_id, "a", max_results=10)
    assert [m.step for m in first] == list(range(10)) and first.token
    second = store.get_metric_history(run.info.run_id, "a", max_results=10, page_token=first.token)
    third = store.get_metric_history(run.info.run_id, "a", max_results=10, page_token=second.token)
    assert [m.step for m in second + third] == list(range(10, 25))
    assert third.token is None


def test_nested_runs_search_and_order(tracking_uri: str) -> None:
    experiment_id = mlflow.set_experiment("nested").experiment_id
    with mlflow.start_run(run_name="parent") as parent:
        for lr in (0.1, 0.01, 0.001):
            with mlflow.start_run(run_name=f"lr-{lr}", nested=True):
                mlflow.log_param("lr", lr)
                mlflow.log_metric("score", lr * 10)
    children = mlflow.search_runs(
        [experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        order_by=["metrics.score DESC"],
        output_format="list",
    )
    assert [r.info.run_name for r in children] == ["lr-0.1", "lr-0.01", "lr-0.001"]
    one = mlflow.search_runs([experiment_id], filter_string="params.lr = '0.01'")
    assert list(one["tags.mlflow.runName"]) == ["lr-0.01"]
    client = MlflowClient()
    page = client.search_runs([experiment_id], max_results=2)
    rest = client.search_runs([experiment_id], max_results=2, page_token=page.token)
    assert len(page) == 2 and len(rest) == 2 and rest.token is None
    assert {r.info.run_id for r in page} | {r.info.run_id for r in rest} >= {parent.info.run_id}


def test_experiment_lifecycle(tracking_uri: str) -> None:
    client = MlflowClient()
    ids = [client.create_experiment(f"exp-{i}", tags={"i": str(i)}) for i in range(3)]
    named_one = client.get_experiment_by_name("exp-1")
    assert named_one is not None and named_one.experiment_id == ids[1]
    assert client.get_experiment_by_name("missing") is None
    client.rename_experiment(ids[0], "renamed")
    client.set_experiment_tag(ids[0], "stage", "dev")
    assert client.get_experiment(ids[0]).name == "renamed"
    assert client.get_experiment(ids[0]).tags["stage"] == "dev"
    client.delete_experiment(ids[2])
    active = {e.name for e in client.search_experiments()}
    assert {"renamed", "exp-1"} <= active and "exp-2" not in active
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert [e.name for e in deleted] == ["exp-2"]
    client.restore_experiment(ids[2])
    named = client.search_experiments(filter_string="name LIKE 'exp-%'", order_by=["name DESC"])
    assert [e.name for e in named] == ["exp-2", "exp-1"]
    assert client.get_experiment("0").name == "Default"
    # the web UI's experiments list asks for experiments without a kind tag
    client.set_experiment_tag(ids[1], "mlflow.experimentKind", "genai_development")
    untagged = client.search_experiments(filter_string="tags.`mlflow.experimentKind` IS NULL")
    assert {"renamed", "exp-2"} <= {e.name for e in untagged}
    assert "exp-1" not in {e.name for e in untagged}
    kinds = client.search_experiments(filter_string="tags.`mlflow.experimentKind` IS NOT NULL")
    assert [e.name for e in kinds] == ["exp-1"]


def test_mlflow_error_codes(tracking_uri: str) -> None:
    client = MlflowClient()
    with pytest.raises(MlflowException) as missing:
        client.get_run("0" * 32)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.create_experiment("taken")
    with pytest.raises(MlflowException) as taken:
        client.create_experiment("taken")
    assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"
    run = client.create_run("0")
    client.log_param(run.info.run_id, "p", "1")
    with pytest.raises(MlflowException) as changed:
        client.log_param(run.info.run_id, "p", "2")
    assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as no_tag:
        client.delete_tag(run.info.run_id, "absent")
    assert no_tag.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.delete_run(run.info.run_id)
    with pytest.raises(MlflowException) as deleted:
        client.log_metric(run.info.run_id, "m", 1.0)
    assert deleted.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as default:
        client.delete_experiment("0")
    assert default.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run.info.run_id).data.params == {"p": "1"}  # nothing else lost


def test_log_batch_and_tags(tracking_uri: str) -> None:
    client = MlflowClient()
    run = client.create_run("0", run_name="batch")
    run_id = run.info.run_id
    metrics = [Metric(f"m{i}", float(i), 1_700_000_000_000, 0) for i in range(1000)]
    params = [Param(f"p{i}", str(i)) for i in range(100)]
    client.log_batch(run_id, metrics=metrics, params=params, tags=[RunTag("k", "v")])
    client.set_tag(run_id, "mlflow.runName", "renamed")
    client.set_terminated(run_id, "KILLED")
    found = client.get_run(run_id)
    assert len(found.data.metrics) == 1000 and len(found.data.params) == 100
    assert found.data.tags["k"] == "v"
    assert found.info.run_name == "renamed"
    assert found.info.status == "KILLED"


def test_runs_are_one_world_with_tracklogs_sdk(
    tracking_uri: str, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment_id = mlflow.set_experiment("one-world").experiment_id
    with mlflow.start_run(run_name="from-mlflow"):
        mlflow.log_metric("x", 1.0)
    store = MlflowClient()._tracking_client.store
    assert isinstance(store, TracklogTrackingStore)
    native = tracklog.TracklogClient(pipeline.address, session=store.backend.session)
    run = native.create_run(experiment_id, run_name="from-tracklog")
    native.log_metric(run.info.run_id, "x", 2.0)
    native.set_terminated(run.info.run_id)
    both = mlflow.search_runs([experiment_id], order_by=["metrics.x ASC"], output_format="list")
    assert [r.info.run_name for r in both] == ["from-mlflow", "from-tracklog"]
    seen = native.search_runs([experiment_id], order_by=["metrics.x DESC"])
    assert [r.info.run_name for r in seen] == ["from-tracklog", "from-mlflow"]


def test_bulk_interval_samples_a_long_metric_in_clickhouse(tracking_uri: str) -> None:
    client = MlflowClient()
    runs = [client.create_run("0").info.run_id for _ in range(2)]
    for run_id in runs:
        points = [Metric("loss", 1.0 / (s + 1), 1_700_000_000_000 + s, s) for s in range(5000)]
        for start in range(0, len(points), 1000):
            client.log_batch(run_id, metrics=points[start : start + 1000])
    store = client._tracking_client.store
    sampled = store.get_metric_history_bulk_interval(runs, "loss", 100, None, None)
    for run_id in runs:
        steps = [m.step for m in sampled if m.run_id == run_id]
        assert 3 <= len(steps) <= 100
        assert steps[0] == 0 and steps[-1] == 4999 and steps == sorted(steps)
    first = next(m for m in sampled if m.run_id == runs[0])
    assert first.value == 1.0  # (downsampled: timestamps are not returned, see histories)
    short = store.get_metric_history_bulk_interval(runs[:1], "loss", 10_000, None, None)
    assert [(m.step, m.timestamp) for m in short[:2]] == [
        (0, 1_700_000_000_000),
        (1, 1_700_000_000_001),
    ]
    window = store.get_metric_history_bulk_interval(runs[:1], "loss", 1000, 100, 199)
    assert [m.step for m in window] == list(range(100, 200))
    with pytest.raises(MlflowException) as half:
        store.get_metric_history_bulk_interval(runs, "loss", 100, 10, None)
    assert half.value.error_code == "INVALID_PARAMETER_VALUE"


def test_dataset_inputs(tracking_uri: str) -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, name="toy", targets="y")  # type: ignore[attr-defined]
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    run_inputs = MlflowClient().get_run(run.info.run_id).inputs
    assert run_inputs is not None
    inputs = run_inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("toy", dataset.digest)]
    assert [t.value for t in inputs[0].tags] == ["training"]


def test_search_runs_gives_the_dataset_inputs_get_run_gives(tracking_uri: str) -> None:
    """As MLflow's own stores: each run of a search page carries its dataset inputs."""
    import pandas as pd

    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    train = mlflow.data.from_pandas(frame, name="train", targets="y")  # type: ignore[attr-defined]
    evaluation = mlflow.data.from_pandas(frame.head(2), name="eval")  # type: ignore[attr-defined]
    experiment_id = mlflow.set_experiment("search-inputs").experiment_id
    with mlflow.start_run() as first:
        mlflow.log_input(train, context="training")
        mlflow.log_input(evaluation, context="evaluation", tags={"split": "holdout"})
    with mlflow.start_run() as second:
        mlflow.log_input(train, context="training")
    with mlflow.start_run() as bare:
        mlflow.log_param("lr", "0.1")
    client = MlflowClient()
    for run_id in (first.info.run_id, second.info.run_id, bare.info.run_id):
        client.get_run(run_id)  # read-your-writes: every run projected

    def described(run: object) -> list[tuple[str, str, str, list[tuple[str, str]]]]:
        inputs = run.inputs.dataset_inputs  # type: ignore[attr-defined]
        return [
            (i.dataset.name, i.dataset.digest, i.dataset.source, [(t.key, t.value) for t in i.tags])
            for i in inputs
        ]

    found = client.search_runs([experiment_id], max_results=2)
    pages = list(found)
    pages += client.search_runs([experiment_id], max_results=2, page_token=found.token)
    assert len(pages) == 3
    for run in pages:
        assert described(run) == described(client.get_run(run.info.run_id))
    by_id = {run.info.run_id: described(run) for run in pages}
    assert [name for name, *_ in by_id[first.info.run_id]] == ["eval", "train"]
    assert [name for name, *_ in by_id[second.info.run_id]] == ["train"]
    assert by_id[bare.info.run_id] == []


def test_a_run_another_process_just_created_is_found(tracking_uri: str) -> None:
    """As `mlflow run`: one process creates the run, the entry point it starts reads it."""
    creator = MlflowClient(tracking_uri)
    run_id = creator.create_run("0").info.run_id
    creator.log_param(run_id, "lr", "0.1")
    assert backend.backend_for(tracking_uri).session.flush(30)  # sent before the child starts
    other = MlflowClient(f"{tracking_uri}&read_fence=off")  # its own backend, as a new process
    found = other.get_run(run_id)
    assert found.data.params == {"lr": "0.1"} and found.info.status == "RUNNING"
    with pytest.raises(MlflowException) as missing:
        other.get_run("e" * 32)  # waits for the topic's end once, then says so
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
