"""The MLflow guide's model code, unchanged but for the tracking URI, run twice: with
``tracklog://`` in the training process and through MLflow's server over http.

``mlflow.sklearn.log_model`` creates an MLflow 3 logged model, uploads it and registers
it; it is loaded back by ``runs:/``, ``models:/<model_id>``, stage and alias, and read
back through MlflowClient and through Tracklog's gRPC."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities import LoggedModelInput, LoggedModelStatus
from mlflow.exceptions import MlflowException
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from tests.e2e.pipeline import Pipeline
from tracklog import TracklogClient

pytestmark = pytest.mark.integration


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(80, 4))
    return features, (features[:, 0] + features[:, 1] > 0).astype(int)


def test_log_model_register_stage_alias_and_load(guide_uri: str, pipeline: Pipeline) -> None:
    features, labels = _data()
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0)
    model.fit(features, labels)
    mlflow.set_experiment("models")
    with mlflow.start_run() as run:
        mlflow.log_params({"n_estimators": 5, "max_depth": 3})
        info = mlflow.sklearn.log_model(
            model,
            artifact_path="model",
            registered_model_name="my-classifier",
            serialization_format="cloudpickle",  # mlflow >= 3.17's default (skops) refuses it
        )
    run_id, model_id = run.info.run_id, info.model_id
    assert str(info.registered_model_version) == "1"
    again = mlflow.register_model(f"runs:/{run_id}/model", "my-classifier")  # found by name
    assert again.version == "2" and again.source == f"models:/{model_id}"

    client = MlflowClient()
    logged = client.get_logged_model(model_id)
    assert (logged.name, logged.source_run_id, logged.status.value) == ("model", run_id, "READY")
    assert logged.params["n_estimators"] == "5"
    assert logged.artifact_location.endswith(f"/models/{model_id}/artifacts")
    outputs = client.get_run(run_id).outputs
    assert outputs is not None
    assert [(o.model_id, o.step) for o in outputs.model_outputs] == [(model_id, 0)]
    experiment_id = run.info.experiment_id
    found = client.search_logged_models([experiment_id], filter_string="name = 'model'")
    assert [m.model_id for m in found] == [model_id]

    expected = model.predict(features)
    for uri in (f"runs:/{run_id}/model", f"models:/{model_id}", "models:/my-classifier/1"):
        assert (mlflow.sklearn.load_model(uri).predict(features) == expected).all(), uri
    client.transition_model_version_stage("my-classifier", "1", "Production")
    by_stage = mlflow.pyfunc.load_model("models:/my-classifier/Production")
    assert (np.asarray(by_stage.predict(features)) == expected).all()
    client.set_registered_model_alias("my-classifier", "champion", "1")
    by_alias = mlflow.sklearn.load_model("models:/my-classifier@champion")
    assert (by_alias.predict(features) == expected).all()
    version = client.get_model_version("my-classifier", "1")
    assert version.run_id == run_id and version.source == f"models:/{model_id}"
    if guide_uri.startswith("tracklog"):  # MLflow's REST ModelVersion (3.17) has no model_id
        assert version.model_id == model_id

    client.log_metric(run_id, "accuracy", 0.93, step=1, model_id=model_id)
    (point,) = client.get_logged_model(model_id).metrics or []
    assert (point.key, point.value, point.step, point.run_id) == ("accuracy", 0.93, 1, run_id)
    assert client.get_run(run_id).data.metrics["accuracy"] == 0.93  # the run's metric too
    client.set_logged_model_tags(model_id, {"stage": "candidate"})
    assert client.get_logged_model(model_id).tags["stage"] == "candidate"
    client.delete_logged_model_tag(model_id, "stage")
    assert "stage" not in client.get_logged_model(model_id).tags
    with pytest.raises(MlflowException) as missing:
        client.get_logged_model("m-" + "0" * 32)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    native = TracklogClient(pipeline.address)
    try:
        mine = native.get_logged_model(model_id)
        assert (mine.source_run_id, mine.status) == (run_id, "READY")
        assert native.get_run(run_id).info.status == "FINISHED"
        registered = [native.get_model_version("my-classifier", v).model_id for v in (1, 2)]
        assert registered == [model_id, model_id]  # recorded through either URI
    finally:
        native.close()


def test_sklearn_autolog_logs_params_metrics_and_the_model(guide_uri: str) -> None:
    features, labels = _data()
    mlflow.set_experiment("autolog")
    mlflow.sklearn.autolog(serialization_format="cloudpickle")
    try:
        with mlflow.start_run() as run:
            LogisticRegression(C=0.5, max_iter=200).fit(features, labels)
    finally:
        mlflow.sklearn.autolog(disable=True)
    client = MlflowClient()
    logged = client.get_run(run.info.run_id)
    assert logged.data.params["C"] == "0.5" and logged.data.params["max_iter"] == "200"
    assert 0.5 < logged.data.metrics["training_accuracy_score"] <= 1.0
    models = client.search_logged_models([run.info.experiment_id])
    assert [m.source_run_id for m in models] == [run.info.run_id]
    reloaded = mlflow.sklearn.load_model(f"models:/{models[0].model_id}")
    assert reloaded.predict(features).shape == (80,)


def test_search_logged_models_in_mlflows_orders_datasets_and_pages(guide_uri: str) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment("ordered")
    run_id = client.create_run(experiment_id).info.run_id
    ids = {}
    for name, accuracy in (("b", 0.7), ("c", 0.9), ("a", 0.8), ("d", None)):
        model_id = client.create_logged_model(experiment_id, name=name).model_id
        ids[model_id] = name
        if accuracy is not None:
            client.log_metric(
                run_id,
                "acc",
                accuracy,
                step=0,
                model_id=model_id,
                dataset_name="test",
                dataset_digest="d1",
            )
    c = next(model_id for model_id, name in ids.items() if name == "c")
    client.log_metric(run_id, "acc", 0.1, step=1, model_id=c)  # c's latest point, any dataset

    def names(**search: Any) -> list[str]:
        return [ids[m.model_id] for m in client.search_logged_models([experiment_id], **search)]

    assert names(order_by=[{"field_name": "name"}]) == ["a", "b", "c", "d"]
    by_accuracy = {"field_name": "metrics.acc", "ascending": False}
    assert names(order_by=[by_accuracy]) == ["a", "b", "c", "d"]  # no metric: last
    on_test = {**by_accuracy, "dataset_name": "test"}
    assert names(order_by=[on_test]) == ["c", "a", "b", "d"]
    assert names(datasets=[{"dataset_name": "test"}], order_by=[on_test]) == ["c", "a", "b"]
    alphabetical = [{"field_name": "name"}]
    assert names(filter_string="metrics.acc > 0.75", order_by=alphabetical) == ["a", "c"]
    assert names(filter_string="metrics.acc < 0.5") == ["c"]  # any point: c's 0.1
    assert names(filter_string="metrics.acc < 0.5", datasets=[{"dataset_name": "test"}]) == []
    oldest_first = mlflow.search_logged_models(
        [experiment_id], order_by=[{"field_name": "creation_time"}], output_format="list"
    )
    assert [ids[m.model_id] for m in oldest_first] == ["b", "c", "a", "d"]

    by_name = [{"field_name": "name", "ascending": False}]
    first = client.search_logged_models([experiment_id], max_results=3, order_by=by_name)
    assert [ids[m.model_id] for m in first] == ["d", "c", "b"] and first.token
    rest = client.search_logged_models(
        [experiment_id], max_results=3, order_by=by_name, page_token=first.token
    )
    assert [ids[m.model_id] for m in rest] == ["a"] and not rest.token
    with pytest.raises(MlflowException, match=r"Invalid order by field name: params\.lr") as bad:
        names(order_by=[{"field_name": "params.lr"}])
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"


def test_logged_models_as_a_runs_inputs(guide_uri: str) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment("inputs")
    model_id = client.create_logged_model(experiment_id, name="base").model_id
    run_id = client.create_run(experiment_id).info.run_id
    unknown = "m-" + "0" * 32  # MLflow's stores record any id
    client.log_inputs(run_id, models=[LoggedModelInput(model_id), LoggedModelInput(unknown)])
    client.log_inputs(run_id, models=[LoggedModelInput(model_id)])  # again: recorded once
    inputs = client.get_run(run_id).inputs
    assert inputs is not None
    assert sorted(m.model_id for m in inputs.model_inputs) == sorted([model_id, unknown])
    assert inputs.dataset_inputs == []
    client.delete_run(run_id)
    with pytest.raises(MlflowException) as deleted:
        client.log_inputs(run_id, models=[LoggedModelInput(model_id)])
    assert deleted.value.error_code == "INVALID_PARAMETER_VALUE"


def test_logged_models_answer_with_mlflows_error_codes(tracking_uri: str) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment("errors")
    model = client.create_logged_model(experiment_id, name="m", model_type="agent")
    assert model.status.value == "PENDING" and model.model_type == "agent"

    def code(call: Callable[[], object]) -> str:
        with pytest.raises(MlflowException) as refused:
            call()
        return refused.value.error_code

    missing_tag = code(lambda: client.delete_logged_model_tag(model.model_id, "absent"))
    assert missing_tag == "RESOURCE_DOES_NOT_EXIST"
    bad_filter = code(lambda: client.search_logged_models([experiment_id], filter_string="x = 1"))
    assert bad_filter == "INVALID_PARAMETER_VALUE"
    by_size = [{"field_name": "size", "ascending": True}]
    unordered = code(lambda: client.search_logged_models([experiment_id], order_by=by_size))
    assert unordered == "INVALID_PARAMETER_VALUE"
    finalized = client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
    assert finalized.status == LoggedModelStatus.FAILED
    failed = client.search_logged_models([experiment_id], filter_string="status = 'FAILED'")
    assert [m.model_id for m in failed] == [model.model_id]
    client.delete_logged_model(model.model_id)
    assert code(lambda: client.get_logged_model(model.model_id)) == "RESOURCE_DOES_NOT_EXIST"
    assert client.search_logged_models([experiment_id]) == []
    client.delete_experiment(experiment_id)
    in_deleted = code(lambda: client.create_logged_model(experiment_id, name="late"))
    assert in_deleted == "INVALID_PARAMETER_VALUE"
