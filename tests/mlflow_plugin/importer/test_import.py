"""`tracklog import mlflow` against real MLflow stores (a file store and a sqlite store
filled through MLflow's client): after the import, MLflow's client over Tracklog returns
what MLflow's client over the source returns; a second import adds nothing."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.entities import Run, ViewType

from tests.e2e.pipeline import Pipeline
from tests.mlflow_plugin.importer.stores import MODEL, MODEL_CREATED_MS, Filled, fill
from tests.mlflow_plugin.servers import mlflow_server
from tracklog.contract.settings import Settings
from tracklog.mlflow.importer.importer import ImportOptions, Summary, import_mlflow
from tracklog.mlflow.importer.registry import aliases

pytestmark = pytest.mark.integration


@pytest.fixture(params=["file", "sqlite"])
def source(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Filled:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    if request.param == "file":
        uri = (tmp_path / "mlruns").as_uri()
    else:
        uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
        monkeypatch.chdir(tmp_path)  # the sqlite store's default artifact root is ./mlruns
    return fill(uri, tmp_path)


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
    if with_registry:
        model = client.get_registered_model(MODEL)
        versions = client.search_model_versions(f"name = '{MODEL}'")
        found["registry"] = {
            "created": model.creation_timestamp,
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
                    v.user_id or "",
                    v.status,
                    v.status_message or "",
                )
                for v in versions
            ),
        }
    return found


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


def test_import_reproduces_the_source(
    source: Filled, pipeline: Pipeline, settings: Settings, tracking_uri: str, tmp_path: Path
) -> None:
    summary = run_import(pipeline, settings, source.uri, state_dir=tmp_path / "state")
    assert summary.runs == 5 and summary.experiments == 3  # with MLflow's Default
    assert summary.points == 50 + 4 + 1 + 2
    assert summary.logged_models == 1
    assert summary.versions == 2 and summary.models == 1
    assert summary.artifacts == 2
    assert summary.skipped == []
    expected = snapshot(MlflowClient(source.uri, registry_uri=source.uri))
    # not vacuous: the source's search gives the parent's input, its registry the aged values
    assert expected["runs"][source.parent_id]["searched_datasets"]
    assert expected["registry"]["created"] == MODEL_CREATED_MS
    assert {v[7] for v in expected["registry"]["versions"]} == {"alice", "bob"}
    tracklog = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    assert_same(snapshot(tracklog), expected)
    # MLflow's ids are kept
    assert summary.experiment_ids == {e: e for e in ["0", *source.experiment_ids]}
    # nesting
    child = tracklog.get_run(source.run_ids[1])
    assert child.data.tags["mlflow.parentRunId"] == source.parent_id
    # artifacts copied into Tracklog's store
    listed = sorted(a.path for a in tracklog.list_artifacts(source.parent_id))
    assert listed == ["notes.txt", "sub"]
    assert (
        tracklog.get_run(source.parent_id).info.artifact_uri.startswith(
            Path(settings.artifact_root).as_uri()
        )
        or settings.artifact_root in tracklog.get_run(source.parent_id).info.artifact_uri
    )

    # twice: with the checkpoint every run is recognised; without it, every event is sent
    # again and the worker drops them (deterministic ids): nothing changes either way
    again = run_import(pipeline, settings, source.uri, state_dir=tmp_path / "state")
    assert again.runs == 0 and again.runs_unchanged == 5
    resent = run_import(pipeline, settings, source.uri)
    assert resent.runs == 5 and resent.points == summary.points
    assert_same(snapshot(tracklog), expected)


def test_dry_run_counts_only(
    source: Filled, pipeline: Pipeline, settings: Settings, tracking_uri: str
) -> None:
    summary = run_import(pipeline, settings, source.uri, dry_run=True)
    assert (summary.experiments, summary.runs, summary.points) == (3, 5, 57)
    assert (summary.models, summary.versions, summary.artifacts) == (1, 2, 2)
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
    assert (summary.runs, summary.points, summary.artifacts) == (5, 57, 2)
    assert [s.where for s in summary.skipped] == [f"run {filled.parent_id} artifact URI"]
    tracklog = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    assert_same(snapshot(tracklog), expected)
    assert sorted(a.path for a in tracklog.list_artifacts(filled.parent_id)) == ["notes.txt", "sub"]
