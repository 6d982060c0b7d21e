"""MLflow's autologging for XGBoost, LightGBM and PyTorch on Tracklog, with real small fits,
run twice: with ``tracklog://`` in the training process and through MLflow's server over http.

Each fit's own evaluation record is the expected metric history: one point per boosting
round (or epoch), the same values. The model autologging logs is an MLflow 3 logged model
of the run; it is loaded back and predicts what the trained model predicts.

``MLFLOW_AUTOLOGGING_TESTING`` makes MLflow raise the errors autologging would otherwise
only warn about. The PyTorch tests are opt-in (``pytest -m torch``) and skip without torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm
import matplotlib

matplotlib.use("Agg")  # autologging draws feature-importance plots

import mlflow
import mlflow.lightgbm
import mlflow.pyfunc
import mlflow.xgboost
import numpy as np
import pytest
import xgboost
from mlflow import MlflowClient
from mlflow.entities import LoggedModel, Run

pytestmark = pytest.mark.integration

ROUNDS = 5


@pytest.fixture(autouse=True)
def autologging_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_AUTOLOGGING_TESTING", "true")


def _split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(120, 4))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    return features[:80], labels[:80], features[80:], labels[80:]


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


def _only_model_of(client: MlflowClient, run: Run) -> LoggedModel:
    models = client.search_logged_models([run.info.experiment_id])
    assert [(m.name, m.source_run_id) for m in models] == [("model", run.info.run_id)]
    model = client.get_logged_model(models[0].model_id)
    assert model.status.value == "READY"
    return model


def _dataset_inputs(run: Run) -> list[tuple[str, str]]:
    assert run.inputs is not None
    return sorted(
        (i.dataset.name, {t.key: t.value for t in i.tags}["mlflow.data.context"])
        for i in run.inputs.dataset_inputs
    )


def test_xgboost_autolog_logs_params_metric_history_and_the_model(guide_uri: str) -> None:
    train_x, train_y, valid_x, valid_y = _split()
    mlflow.set_experiment("xgboost")
    mlflow.xgboost.autolog()
    evals_result: dict[str, Any] = {}
    try:
        dtrain = xgboost.DMatrix(train_x, label=train_y)
        dvalid = xgboost.DMatrix(valid_x, label=valid_y)
        params = {"objective": "binary:logistic", "max_depth": 2, "eta": 0.3, "seed": 0}
        with mlflow.start_run() as run:
            booster = xgboost.train(
                {**params, "eval_metric": "logloss"},
                dtrain,
                num_boost_round=ROUNDS,
                evals=[(dtrain, "train"), (dvalid, "valid")],
                evals_result=evals_result,
            )
    finally:
        mlflow.xgboost.autolog(disable=True)
    run_id = run.info.run_id
    client = MlflowClient()
    logged = client.get_run(run_id)
    assert logged.info.status == "FINISHED"
    assert {k: logged.data.params.get(k) for k in ("max_depth", "eta", "num_boost_round")} == {
        "max_depth": "2",
        "eta": "0.3",
        "num_boost_round": str(ROUNDS),
    }
    assert logged.data.params["objective"] == "binary:logistic"
    for data in ("train", "valid"):
        expected = evals_result[data]["logloss"]
        assert len(expected) == ROUNDS
        history = _history(client, run_id, f"{data}-logloss")
        assert [step for step, _ in history] == list(range(ROUNDS))
        assert [value for _, value in history] == pytest.approx(expected)
        assert logged.data.metrics[f"{data}-logloss"] == pytest.approx(expected[-1])
    assert evals_result["train"]["logloss"][-1] < evals_result["train"]["logloss"][0]
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"feature_importance_weight.json", "feature_importance_weight.png"} <= artifacts
    assert _dataset_inputs(logged) == [("dataset", "train"), ("train", "eval"), ("valid", "eval")]

    model = _only_model_of(client, logged)
    assert logged.outputs is not None
    assert [o.model_id for o in logged.outputs.model_outputs] == [model.model_id]
    points = sorted((m.key, m.step, m.run_id) for m in model.metrics or [])  # per round
    assert points == sorted(
        (f"{data}-logloss", step, run_id) for data in ("train", "valid") for step in range(ROUNDS)
    )
    expected_proba = booster.predict(dvalid)
    assert ((expected_proba > 0.5) == valid_y).mean() > 0.8
    reloaded = mlflow.xgboost.load_model(f"models:/{model.model_id}")
    assert np.array_equal(reloaded.predict(xgboost.DMatrix(valid_x)), expected_proba)
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    assert np.allclose(np.asarray(pyfunc.predict(valid_x)), expected_proba)


def test_lightgbm_autolog_logs_params_metric_history_and_the_model(guide_uri: str) -> None:
    train_x, train_y, valid_x, valid_y = _split()
    mlflow.set_experiment("lightgbm")
    mlflow.lightgbm.autolog()
    evals_result: dict[str, Any] = {}
    try:
        train_set = lightgbm.Dataset(train_x, label=train_y)
        valid_set = lightgbm.Dataset(valid_x, label=valid_y, reference=train_set)
        params = {
            "objective": "binary",
            "metric": "binary_logloss",
            "num_leaves": 4,
            "learning_rate": 0.3,
            "min_data_in_leaf": 5,
            "seed": 0,
            "verbose": -1,
        }
        with mlflow.start_run() as run:
            booster = lightgbm.train(
                params,
                train_set,
                num_boost_round=ROUNDS,
                valid_sets=[train_set, valid_set],
                valid_names=["train", "valid"],
                callbacks=[lightgbm.record_evaluation(evals_result)],
            )
    finally:
        mlflow.lightgbm.autolog(disable=True)
    run_id = run.info.run_id
    client = MlflowClient()
    logged = client.get_run(run_id)
    assert logged.info.status == "FINISHED"
    wanted = ("num_leaves", "learning_rate", "objective", "num_boost_round")
    assert {k: logged.data.params.get(k) for k in wanted} == {
        "num_leaves": "4",
        "learning_rate": "0.3",
        "objective": "binary",
        "num_boost_round": str(ROUNDS),
    }
    for data in ("train", "valid"):
        expected = evals_result[data]["binary_logloss"]
        assert len(expected) == ROUNDS
        history = _history(client, run_id, f"{data}-binary_logloss")
        assert [step for step, _ in history] == list(range(ROUNDS))
        assert [value for _, value in history] == pytest.approx(expected)
        assert logged.data.metrics[f"{data}-binary_logloss"] == pytest.approx(expected[-1])
    assert evals_result["train"]["binary_logloss"][-1] < evals_result["train"]["binary_logloss"][0]
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    importances = {
        f"feature_importance_{kind}.{ext}" for kind in ("split", "gain") for ext in ("json", "png")
    }
    assert importances <= artifacts
    assert _dataset_inputs(logged) == [("dataset", "train"), ("train", "eval"), ("valid", "eval")]

    model = _only_model_of(client, logged)
    expected_proba = np.asarray(booster.predict(valid_x))
    assert ((expected_proba > 0.5) == valid_y).mean() > 0.8
    reloaded = mlflow.lightgbm.load_model(f"models:/{model.model_id}")
    assert np.array_equal(reloaded.predict(valid_x), expected_proba)
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    assert np.allclose(np.asarray(pyfunc.predict(valid_x)), expected_proba)


@pytest.mark.torch
def test_pytorch_log_model_reloads_a_module_that_predicts_the_same(guide_uri: str) -> None:
    torch = pytest.importorskip("torch")
    import mlflow.pytorch

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    features = torch.from_numpy(_split()[0].astype(np.float32))
    with torch.no_grad():
        expected = module(features)
    mlflow.set_experiment("pytorch")
    with mlflow.start_run() as run:
        info = mlflow.pytorch.log_model(module, name="model", input_example=features[:2].numpy())
    assert "pytorch" in info.flavors
    client = MlflowClient()
    model = _only_model_of(client, client.get_run(run.info.run_id))
    assert model.model_id == info.model_id

    reloaded = mlflow.pytorch.load_model(f"models:/{info.model_id}")
    with torch.no_grad():
        assert torch.equal(reloaded(features), expected)
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert np.allclose(
        np.asarray(pyfunc.predict(features.numpy())).ravel(), expected.numpy().ravel()
    )


def _lightning_classifier(torch: Any, pl: Any) -> Any:
    class Classifier(pl.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def forward(self, x: Any) -> Any:
            return self.layer(x)

        def _loss(self, batch: Any) -> Any:
            x, y = batch
            return torch.nn.functional.binary_cross_entropy_with_logits(self(x).squeeze(-1), y)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = self._loss(batch)
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_loss", self._loss(batch), on_step=False, on_epoch=True)

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.5)

    return Classifier()


@pytest.mark.torch
def test_pytorch_lightning_autolog_logs_epochs_and_the_model(
    guide_uri: str, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    pl = pytest.importorskip("pytorch_lightning")
    import mlflow.pytorch

    train_x, train_y, valid_x, valid_y = _split()

    def loader(x: np.ndarray, y: np.ndarray) -> Any:
        tensors = torch.utils.data.TensorDataset(
            torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
        )
        return torch.utils.data.DataLoader(tensors, batch_size=20)

    torch.manual_seed(0)
    classifier = _lightning_classifier(torch, pl)
    epochs = 3
    trainer = pl.Trainer(
        max_epochs=epochs,
        default_root_dir=str(tmp_path),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        accelerator="cpu",
    )
    mlflow.set_experiment("lightning")
    mlflow.pytorch.autolog(checkpoint=False)
    try:
        with mlflow.start_run() as run:
            trainer.fit(classifier, loader(train_x, train_y), loader(valid_x, valid_y))
    finally:
        mlflow.pytorch.autolog(disable=True)
    run_id = run.info.run_id
    client = MlflowClient()
    logged = client.get_run(run_id)
    assert logged.info.status == "FINISHED"
    params = logged.data.params
    assert (params["epochs"], params["optimizer_name"], params["lr"]) == (str(epochs), "SGD", "0.5")
    for key in ("train_loss", "val_loss"):
        history = _history(client, run_id, key)
        assert [step for step, _ in history] == list(range(epochs)), key
        assert history[-1][1] == pytest.approx(float(trainer.callback_metrics[key]))
    train_losses = [value for _, value in _history(client, run_id, "train_loss")]
    assert train_losses[-1] < train_losses[0]

    model = _only_model_of(client, logged)
    inputs = torch.from_numpy(valid_x.astype(np.float32))
    classifier.eval()
    with torch.no_grad():
        expected = classifier(inputs)
        reloaded = mlflow.pytorch.load_model(f"models:/{model.model_id}")
        assert torch.equal(reloaded(inputs), expected)
