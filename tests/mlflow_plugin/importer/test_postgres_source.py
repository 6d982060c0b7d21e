"""`tracklog import mlflow postgresql://...`: an MLflow store in a real Postgres (the
tests' own server, a database of its own) filled through MLflow's client and imported
from the plain ``postgresql://`` URI a team would give (read with psycopg 3: Tracklog
does not install psycopg2), with the same comparison as the file and sqlite stores."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import Backends
from tests.e2e.pipeline import Pipeline
from tests.mlflow_plugin.importer.stores import Filled, fill
from tests.mlflow_plugin.importer.test_import import checked_roots, reproduces
from tracklog.contract.settings import Settings
from tracklog.deploy.embedded.postgres import create_database

pytestmark = pytest.mark.integration
__all__ = ["checked_roots"]  # the fixture


@pytest.fixture
def postgres_source(backends: Backends, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Filled:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.chdir(tmp_path)  # the store's default artifact root is ./mlruns
    database = f"mlflow_{uuid.uuid4().hex[:10]}"
    create_database(backends.postgres_admin_dsn, database)
    url = make_url(backends.postgres_admin_dsn).set(drivername="postgresql", database=database)
    return fill(url.render_as_string(hide_password=False), tmp_path)


def test_import_from_postgres_reproduces_the_source(
    checked_roots: str,
    postgres_source: Filled,
    pipeline: Pipeline,
    settings: Settings,
    tracking_uri: str,
    tmp_path: Path,
) -> None:
    assert postgres_source.uri.startswith("postgresql://")
    reproduces(postgres_source, pipeline, settings, tracking_uri, tmp_path)
