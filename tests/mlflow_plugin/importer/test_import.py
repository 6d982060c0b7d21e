"""`tracklog import mlflow` against real MLflow stores (a file store, a sqlite store and
a server over one, filled through MLflow's client): after the import, MLflow's client
over Tracklog returns what MLflow's client over the source returns, the registry's
times, users, statuses and stages included, with Tracklog checking artifact locations;
a second import adds nothing; nothing is left in the current directory."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.entities import Run, ViewType
from mlflow.tracking._tracking_service import utils as mlflow_tracking

from tests.e2e.pipeline import Pipeline
from tests.mlflow_plugin.importer.stores import (
    AGED_VERSIONS,
    MODEL,
    MODEL_CREATED_MS,
    MODEL_UPDATED_MS,
    Filled,
    fill,
)
from tests.mlflow_plugin.servers import mlflow_server
from tracklog.contract.settings import Settings
from tracklog.mlflow.importer.importer import ImportOptions, Summary, import_mlflow
from tracklog.mlflow.importer.registry import aliases
from tracklog.mlflow.importer.source import database_uri

pytestmark = pytest.mark.integration


@pytest.fixture(params=["file", "sqlite"])
def source(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Filled:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    # the sqlite store's default artifact root is ./mlruns; whatever MLflow writes in the
    # current directory lands in the test's (and test_nothing_is_left_in_the_directory
    # checks there is nothing)
    monkeypatch.chdir(tmp_path)
    if request.param == "file":
        uri = (tmp_path / "mlruns").as_uri()
    else:
        uri = f"sqlite:///{tmp_path / 'source.db'}"
    return fill(uri, tmp_path)


@pytest.fixture
def checked_roots(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """Artifact locations checked by the pipeline (requested before it): only Tracklog's
    own root is allowed, so whatever the import leaves outside it is dead-lettered."""
    monkeypatch.setenv("TRACKLOG_ARTIFACT_ROOTS", settings.artifact_root)
    return settings.artifact_root


def run_import(pipeline: Pipeline, settings: Settings, uri: str, **options: Any) -> Summary:
    return import_mlflow(
        ImportOptions(
            source=uri,
            kafka=settings.kafka,
            query_addr=pipeline.address,
            fallback_artifact_root=settings.artifact_root,
            projection_timeout=120,
            **options,
        )
    )


def _value(v: float) -> object:
    """NaN comparable; an infinity as MLflow's SQL stores (and Tracklog) keep it: the
    largest finite double (a file store keeps inf itself)."""
    if math.isinf(v):
        return math.copysign(sys.float_info.max, v)
    return "nan" if math.isnan(v) else v


def snapshot(client: MlflowClient, with_registry: bool = True) -> dict[str, Any]:
    """What MLflow's client reads: experiments, runs, params, tags, histories, registry."""
    found: dict[str, Any] = {"experiments": {}, "runs": {}}
    for e in client.search_experiments(view_type=ViewType.ALL):
        if e.name == "Default":
            continue
        found["experiments"][e.experiment_id] = (e.name, e.lifecycle_stage, dict(e.tags))
        runs = client.search_runs([e.experiment_id], run_view_type=ViewType.ALL)
        for listed in runs:
            r = client.get_run(listed.info.run_id)  # with its inputs and outputs
            info = r.info
            histories = {
                key: [
                    (m.step, m.timestamp, _value(m.value))
                    for m in client.get_metric_history(info.run_id, key)
                ]
                for key in r.data.metrics
            }
            found["runs"][info.run_id] = {
                "experiment": info.experiment_id,
                "name": info.run_name,
                "status": info.status,
                "stage": info.lifecycle_stage,
                "start": info.start_time,
                "end": info.end_time,
                "params": dict(r.data.params),
                "tags": dict(r.data.tags),
                "histories": {k: sorted(v, key=repr) for k, v in histories.items()},
                "datasets": _datasets(r),
                "searched_datasets": _datasets(listed),  # as search_runs gives them
                "outputs": sorted(
                    o.model_id for o in (r.outputs.model_outputs if r.outputs else [])
                ),
            }
        found.setdefault("logged_models", {}).update(
            (
                m.model_id,
                (
                    m.name,
                    m.source_run_id,
                    str(m.status),
                    dict(m.tags),
                    dict(m.params),
                    sorted((x.key, x.value, x.run_id) for x in m.metrics or []),
                ),
            )
            for m in client.search_logged_models([e.experiment_id])
        )
        found.setdefault("logged_model_files", {}).update(
            (m.model_id, _model_files(client, m.model_id))
            for m in client.search_logged_models([e.experiment_id])
        )
    if with_registry:
        model = client.get_registered_model(MODEL)
        versions = client.search_model_versions(f"name = '{MODEL}'")
        found["registry"] = {
            "created": model.creation_timestamp,
            "updated": model.last_updated_timestamp,
            "description": model.description,
            "tags": dict(model.tags),
            "aliases": aliases(model),
            "versions": sorted(
                (
                    int(v.version),
                    v.current_stage,
                    v.source,
                    v.run_id,
                    v.description or "",
                    dict(v.tags),
                    v.creation_timestamp,
                    v.last_updated_timestamp,
                    v.user_id or "",
                    v.status,
                    v.status_message or "",
                )
                for v in versions
            ),
        }
    return found


def _model_files(client: MlflowClient, model_id: str, path: str | None = None) -> list[Any]:
    """A logged model's files (path, size), recursively, as MLflow's client lists them.
    MLflow caches an artifact repository per model id for the process: dropped first, so
    that a store is not answered from another store's model of the same id."""
    mlflow_tracking._artifact_repos_cache.pop(model_id, None)
    found: list[Any] = []
    for entry in client.list_logged_model_artifacts(model_id, path):
        if entry.is_dir:
            found.extend(_model_files(client, model_id, entry.path))
        else:
            found.append((entry.path, entry.file_size))
    return sorted(found)


def _datasets(run: Run) -> list[tuple[str, str, str, list[tuple[str, str]]]]:
    return sorted(
        (
            d.dataset.name,
            d.dataset.digest,
            d.dataset.source,
            sorted((t.key, t.value) for t in d.tags),
        )
        for d in (run.inputs.dataset_inputs if run.inputs else [])
    )


def assert_same(found: dict[str, Any], expected: dict[str, Any]) -> None:
    assert found["experiments"] == expected["experiments"]
    assert sorted(found["runs"]) == sorted(expected["runs"])
    for run_id, run in expected["runs"].items():
        for field, value in run.items():
            if field == "histories":
                for key, points in value.items():
                    got = found["runs"][run_id][field].get(key)
                    assert (run_id, key, got) == (run_id, key, points)
            assert (run_id, field, found["runs"][run_id][field]) == (run_id, field, value)
    assert found.get("registry") == expected.get("registry")
    assert found["logged_models"] == expected["logged_models"]
    assert found["logged_model_files"] == expected["logged_model_files"]


def test_import_reproduces_the_source(
    checked_roots: str,
    source: Filled,
    pipeline: Pipeline,
    settings: Settings,
    tracking_uri: str,
    tmp_path: Path,
) -> None:
    reproduces(source, pipeline, settings, tracking_uri, tmp_path)


def reproduces(
    source: Filled, pipeline: Pipeline, settings: Settings, tracking_uri: str, tmp_path: Path
) -> None:
    """Import ``source`` (filled by `fill`) and compare; import it twice more."""
    summary = run_import(pipeline, settings, source.uri, state_dir=tmp_path / "state")
    assert summary.runs == 5 and summary.experiments == 3  # with MLflow's Default
    assert summary.points == 50 + 4 + 1 + 2
    assert summary.logged_models == 1
    assert summary.versions == 3 and summary.models == 1
    assert summary.artifacts == 2 + 2  # the run's, the logged model's
    assert summary.skipped == []
    opened = database_uri(source.uri)
    expected = snapshot(MlflowClient(opened, registry_uri=opened))
    # not vacuous: the source's search gives the parent's input, its registry the aged
    # values, its logged model files
    assert expected["runs"][source.parent_id]["searched_datasets"]
    registry = expected["registry"]
    assert (registry["created"], registry["updated"]) == (MODEL_CREATED_MS, MODEL_UPDATED_MS)
    by_number = {v[0]: v for v in registry["versions"]}
    assert {n: (v[1], v[6], v[7], v[8], v[9]) for n, v in by_number.items()} == {
        n: (
            {1: "Staging", 3: "Production", 4: "Staging"}[n],
            AGED_VERSIONS[n]["creation_timestamp"],
            AGED_VERSIONS[n]["last_updated_timestamp"],
            AGED_VERSIONS[n]["user_id"] or "",
            AGED_VERSIONS[n].get("status", "READY"),
        )
        for n in (1, 3, 4)
    }
    assert [len(files) for files in expected["logged_model_files"].values()] == [2]
    tracklog = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    assert_same(snapshot(tracklog), expected)
    # MLflow's ids are kept
    assert summary.experiment_ids == {e: e for e in ["0", *source.experiment_ids]}
    # nesting
    child = tracklog.get_run(source.run_ids[1])
    assert child.data.tags["mlflow.parentRunId"] == source.parent_id
    # artifacts copied into Tracklog's store, the logged model's too
    listed = sorted(a.path for a in tracklog.list_artifacts(source.parent_id))
    assert listed == ["notes.txt", "sub"]
    root = Path(settings.artifact_root)
    assert tracklog.get_run(source.parent_id).info.artifact_uri.startswith(
        (root.as_uri(), str(root))
    )
    for model in tracklog.search_logged_models([source.experiment_ids[0]]):
        assert model.artifact_location.startswith((root.as_uri(), str(root)))

    # twice: with the checkpoint every run is recognised; without it, every event is sent
    # again and the worker drops them (deterministic ids): nothing changes either way
    again = run_import(pipeline, settings, source.uri, state_dir=tmp_path / "state")
    assert again.runs == 0 and again.runs_unchanged == 5
    assert again.artifacts == 0  # the logged model's files are there already
    resent = run_import(pipeline, settings, source.uri)
    assert resent.runs == 5 and resent.points == summary.points
    assert_same(snapshot(tracklog), expected)


def test_dry_run_counts_only(
    source: Filled, pipeline: Pipeline, settings: Settings, tracking_uri: str
) -> None:
    summary = run_import(pipeline, settings, source.uri, dry_run=True)
    assert (summary.experiments, summary.runs, summary.points) == (3, 5, 57)
    assert (summary.models, summary.versions, summary.artifacts) == (1, 3, 2 + 2)
    assert summary.events == 0
    tracklog = MlflowClient(tracking_uri)
    assert [e.name for e in tracklog.search_experiments(view_type=ViewType.ALL)] in (
        [],
        ["Default"],
    )


def test_import_from_a_server(
    pipeline: Pipeline,
    settings: Settings,
    tracking_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An `mlflow server` (sqlite behind it, artifacts proxied as mlflow-artifacts:) as the
    source: everything read over REST, the artifacts copied even with --keep-artifact-uris
    (Tracklog cannot read mlflow-artifacts: URIs), and said so."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    backend = f"sqlite:///{tmp_path / 'served.db'}"
    with mlflow_server(backend, tmp_path, tmp_path / "spool", workers=1) as url:
        filled = fill(url, tmp_path, store=backend)
        summary = run_import(pipeline, settings, url, keep_artifact_uris=True)
        expected = snapshot(MlflowClient(url, registry_uri=url))
    assert (summary.runs, summary.points, summary.artifacts) == (5, 57, 2 + 2)
    assert sorted(s.where for s in summary.skipped) == sorted(
        [
            f"run {filled.parent_id} artifact URI",
            *(f"logged model {m} artifact location" for m in expected["logged_model_files"]),
        ]
    )
    tracklog = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    assert_same(snapshot(tracklog), expected)
    assert sorted(a.path for a in tracklog.list_artifacts(filled.parent_id)) == ["notes.txt", "sub"]


def test_nothing_is_left_in_the_directory(
    source: Filled, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's file registry store reads a version's logged model through MLflow's global
    tracking URI, by default sqlite:///mlflow.db in the current directory (which it
    creates) unless the directory holds ./mlruns: reading a source's registry from
    another directory, with no tracking URI set, creates nothing there."""
    assert not (tmp_path / "mlflow.db").exists()  # filling the source made none either
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(mlflow_tracking, "_tracking_uri", None)
    summary = import_mlflow(
        ImportOptions(source=source.uri, kafka=settings.kafka, query_addr="", dry_run=True)
    )
    assert summary.versions == 3
    assert list(elsewhere.iterdir()) == []
