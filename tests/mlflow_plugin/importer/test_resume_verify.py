"""An interrupted import resumes; --verify agrees after an import and names a difference
afterwards; --keep-artifact-uris references the source's files; the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.e2e.pipeline import Pipeline
from tests.mlflow_plugin.importer.stores import Filled
from tests.mlflow_plugin.importer.test_import import assert_same, run_import, snapshot, source
from tracklog.contract.settings import Settings
from tracklog.deploy.cli.main import main
from tracklog.mlflow.importer.importer import ImportOptions, Totals
from tracklog.mlflow.importer.verify import verify

pytestmark = pytest.mark.integration
__all__ = ["source"]  # the fixture, parametrized over a file and a sqlite store


class Interrupt(Exception):
    pass


class StopAfterRuns:
    """A Progress that interrupts the import after `runs` runs (as Ctrl-C would)."""

    def __init__(self, runs: int) -> None:
        self.left = runs

    def start(self, totals: Totals) -> None:
        pass

    def advance(self, *, runs: int = 0, **_: int) -> None:
        self.left -= runs
        if self.left <= 0:
            raise Interrupt

    def stage(self, what: str) -> None:
        pass

    def finish(self) -> None:
        pass


def test_an_interrupted_import_resumes(
    source: Filled, pipeline: Pipeline, settings: Settings, tracking_uri: str, tmp_path: Path
) -> None:
    from tracklog.mlflow.importer.importer import import_mlflow

    options = ImportOptions(
        source=source.uri,
        kafka=settings.kafka,
        query_addr=pipeline.address,
        fallback_artifact_root=settings.artifact_root,
        state_dir=tmp_path / "state",
        projection_timeout=120,
    )
    with pytest.raises(Interrupt):
        import_mlflow(options, StopAfterRuns(2))
    resumed = import_mlflow(options)
    assert (resumed.runs_unchanged, resumed.runs) == (2, 3)
    expected = snapshot(MlflowClient(source.uri, registry_uri=source.uri))
    assert_same(snapshot(MlflowClient(tracking_uri, registry_uri=tracking_uri)), expected)
    assert verify(options) == []
    # a point logged in MLflow after the import is a difference
    MlflowClient(source.uri).log_metric(source.parent_id, "loss", 7.0, step=99)
    differences = verify(options)
    assert any("metric 'loss'" in d for d in differences), differences


def test_keep_artifact_uris_references_the_source(
    source: Filled, pipeline: Pipeline, settings: Settings, tracking_uri: str
) -> None:
    summary = run_import(pipeline, settings, source.uri, keep_artifact_uris=True, registry=False)
    assert summary.artifacts == 0
    mlflow_run = MlflowClient(source.uri).get_run(source.parent_id)
    tracklog = MlflowClient(tracking_uri)
    assert tracklog.get_run(source.parent_id).info.artifact_uri == mlflow_run.info.artifact_uri
    listed = sorted(a.path for a in tracklog.list_artifacts(source.parent_id))
    assert listed == ["notes.txt", "sub"]


def test_the_command_line(
    source: Filled,
    pipeline: Pipeline,
    settings: Settings,
    tracking_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TRACKLOG_QUERY_ADDR", pipeline.address)
    monkeypatch.setenv("TRACKLOG_KAFKA_BOOTSTRAP", settings.kafka.bootstrap_servers)
    monkeypatch.setenv("TRACKLOG_EVENTS_TOPIC", settings.kafka.events_topic)
    monkeypatch.setenv("TRACKLOG_ARTIFACT_ROOT", settings.artifact_root)
    state = ["--state-dir", str(tmp_path / "state")]
    assert main(["import", "mlflow", source.uri, "--dry-run"]) == 0
    assert "would import: 3 experiments, 5 runs" in capsys.readouterr().out
    assert main(["import", "mlflow", source.uri, "--verify", *state]) == 0
    out = capsys.readouterr().out
    assert "imported: 3 experiments, 5 runs" in out
    assert "verify: source and Tracklog agree" in out
    assert main(["import", "mlflow", source.uri, "--experiment", "nope", *state]) == 4
    assert "error: no experiment named 'nope'" in capsys.readouterr().err
