"""MLflow's model registry on Tracklog: register, stages, aliases, load by models:/ URI."""

from __future__ import annotations

from pathlib import Path

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.ensemble import RandomForestClassifier

from tests.e2e.pipeline import Pipeline
from tracklog import RegistryClient
from tracklog.mlflow.registry_store import _without_prompt_clause

pytestmark = pytest.mark.integration


def _trained_run(tmp_path: Path) -> tuple[str, RandomForestClassifier, np.ndarray]:
    """A run holding a RandomForest saved as an MLflow model under "model"."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 4))
    labels = (features[:, 0] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0)
    model.fit(features, labels)
    saved = tmp_path / "saved-model"
    mlflow.sklearn.save_model(model, str(saved), serialization_format="cloudpickle")
    with mlflow.start_run() as run:
        mlflow.log_params({"n_estimators": 5, "max_depth": 3})
        mlflow.log_artifacts(str(saved), artifact_path="model")
    return run.info.run_id, model, features


def test_register_stage_alias_and_load(
    tracking_uri: str, pipeline: Pipeline, tmp_path: Path
) -> None:
    run_id, model, features = _trained_run(tmp_path)
    version = mlflow.register_model(f"runs:/{run_id}/model", "my-classifier")
    assert version.version == "1" and version.run_id == run_id
    second = mlflow.register_model(f"runs:/{run_id}/model", "my-classifier")
    assert second.version == "2"

    client = MlflowClient()
    moved = client.transition_model_version_stage("my-classifier", "1", "Production")
    assert moved.current_stage == "Production"
    client.transition_model_version_stage("my-classifier", "2", "Staging")
    found = client.search_model_versions("name='my-classifier'")
    assert sorted((v.version, v.current_stage) for v in found) == [
        ("1", "Production"),
        ("2", "Staging"),
    ]
    latest = client.get_latest_versions("my-classifier", stages=["Production"])
    assert [v.version for v in latest] == ["1"]
    updated = client.update_model_version("my-classifier", "1", description="the first")
    assert updated.description == "the first"
    client.set_registered_model_alias("my-classifier", "champion", "2")
    assert client.get_model_version_by_alias("my-classifier", "champion").version == "2"
    client.set_model_version_tag("my-classifier", "1", "validated", "yes")
    client.set_registered_model_tag("my-classifier", "team", "risk")
    registered = client.get_registered_model("my-classifier")
    assert registered.tags == {"team": "risk"} and registered.aliases == {"champion": "2"}
    assert client.get_model_version("my-classifier", "1").tags == {"validated": "yes"}

    expected = model.predict(features)
    by_stage = mlflow.sklearn.load_model("models:/my-classifier/Production")
    assert (by_stage.predict(features) == expected).all()
    by_alias = mlflow.pyfunc.load_model("models:/my-classifier@champion")
    assert (np.asarray(by_alias.predict(features)) == expected).all()
    by_run = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
    assert (by_run.predict(features) == expected).all()

    native = RegistryClient(pipeline.address).get_model_version("my-classifier", 1)
    assert native.current_stage == "Production" and native.description == "the first"


def test_search_registered_models_order_and_pages(tracking_uri: str) -> None:
    client = MlflowClient()
    for name in ("beta", "alpha", "gamma", "delta"):
        client.create_registered_model(name, tags={"kind": "demo"})
    ordered = client.search_registered_models(order_by=["name DESC"], max_results=3)
    assert [m.name for m in ordered] == ["gamma", "delta", "beta"] and ordered.token
    rest = client.search_registered_models(
        order_by=["name DESC"], max_results=3, page_token=ordered.token
    )
    assert [m.name for m in rest] == ["alpha"] and rest.token is None
    liked = client.search_registered_models(filter_string="name LIKE '%a'")
    assert sorted(m.name for m in liked) == ["alpha", "beta", "delta", "gamma"]
    client.rename_registered_model("delta", "epsilon")
    client.delete_registered_model("beta")
    names = sorted(m.name for m in client.search_registered_models())
    assert names == ["alpha", "epsilon", "gamma"]
    with pytest.raises(MlflowException) as bad:
        client.search_registered_models(order_by=["colour ASC"])
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"


def test_registry_error_codes(tracking_uri: str) -> None:
    client = MlflowClient()
    client.create_registered_model("only")
    with pytest.raises(MlflowException) as taken:
        client.create_registered_model("only")
    assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as missing:
        client.get_registered_model("absent")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as no_version:
        client.get_model_version("only", "7")
    assert no_version.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as no_alias:
        client.get_model_version_by_alias("only", "ghost")
    assert no_alias.value.error_code == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize(
    ("given", "rest", "prompts_only"),
    [
        ("name = 'a' AND tags.`mlflow.prompt.is_prompt` != 'true'", "name = 'a'", False),
        ("tags.`mlflow.prompt.is_prompt` != 'true'", "", False),
        ("tag.`mlflow.prompt.is_prompt` = 'true' AND name LIKE 'x%'", "name LIKE 'x%'", True),
        (
            "name='a' AND tags.`mlflow.prompt.is_prompt` = 'false' AND tags.k='v'",
            "name='a' AND tags.k='v'",
            False,
        ),
        ("name = 'x'", "name = 'x'", False),
    ],
)
def test_mlflows_prompt_clause_is_dropped(given: str, rest: str, prompts_only: bool) -> None:
    assert _without_prompt_clause(given) == (rest, prompts_only)
