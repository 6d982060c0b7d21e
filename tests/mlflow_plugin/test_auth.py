"""MLflow's client through the tracklog:// plugin against a query service with
authentication on: the plugin sends TRACKLOG_TOKEN (one identity for all its callers), the
registry records that user, and without a token the service refuses."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tracklog.contract.read_model.postgres_schema import migrate
from tracklog.contract.settings import Settings
from tracklog.query.auth import accounts


@pytest.fixture(autouse=True)
def auth_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKLOG_AUTH", "on")  # read by the pipeline's query server


def _service_token(settings: Settings) -> str:
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        migrate(conn)
        accounts.create_user(conn, "mlflow-service")
        return accounts.create_token(conn, "mlflow-service").secret


def test_the_plugin_calls_with_its_service_token(
    settings: Settings, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLOG_TOKEN", _service_token(settings))
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    client.create_registered_model("fraud")
    assert [m.name for m in client.search_registered_models()] == ["fraud"]
    with psycopg.connect(settings.postgres_dsn) as conn:
        grants: list[Any] = conn.execute(
            "SELECT user_name, permission FROM registered_model_permissions"
        ).fetchall()
    assert grants == [("mlflow-service", "MANAGE")]  # the creator: the service's user


def test_without_a_token_the_plugin_is_refused(tracking_uri: str) -> None:
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    with pytest.raises(MlflowException, match="bearer token") as refused:
        client.search_registered_models()
    assert refused.value.error_code == "UNAUTHENTICATED"  # MLflow's server: HTTP 401
