"""`TracklogClient` against a running pipeline: experiments, runs, inputs, read-your-writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import tracklog
from tests.e2e.pipeline import Pipeline, running_pipeline, wait_until
from tracklog import Metric, Param, RunTag, Session, TracklogClient, TracklogError
from tracklog.contract.ids import experiment_id_for
from tracklog.contract.settings import Settings
from tracklog.data import Dataset
from tracklog.events import lifecycle as events_tracking
from tracklog.experiment_names import ExperimentDeletedError

pytestmark = pytest.mark.integration


@contextmanager
def client_of(settings: Settings, pipeline: Pipeline) -> Iterator[tuple[TracklogClient, Session]]:
    session = Session(
        settings.kafka,
        linger_seconds=0.002,
        linger_ms=0,
        query_addr=pipeline.address,
        artifact_root=settings.artifact_root,
    )
    client = TracklogClient(pipeline.address, session=session)
    try:
        yield client, session
    finally:
        client.close()
        session.close(10)


def test_experiments_create_rename_tag_delete_restore_and_search(
    settings: Settings, clickhouse_client: Any
) -> None:
    with (
        running_pipeline(settings, clickhouse_client) as pipeline,
        client_of(settings, pipeline) as (client, session),
    ):
        fraud = client.create_experiment("fraud", tags={"team": "risk"})
        assert fraud == experiment_id_for("fraud")
        got = client.get_experiment(fraud)
        assert (got.name, got.lifecycle_stage, dict(got.tags)) == (
            "fraud",
            "active",
            {"team": "risk"},
        )
        with pytest.raises(TracklogError) as taken:
            client.create_experiment("fraud")
        assert taken.value.code == "ALREADY_EXISTS"

        churn = client.create_experiment("churn")
        with pytest.raises(TracklogError, match="taken"):
            client.rename_experiment(churn, "fraud")
        client.rename_experiment(fraud, "fraud-v2")
        assert client.get_experiment_by_name("fraud") is None
        assert client.get_experiment_by_name("fraud-v2").experiment_id == fraud  # type: ignore[union-attr]
        # set_experiment follows the rename; the old name gets a fresh id (uuid5 is taken)
        assert session.set_experiment("fraud-v2").experiment_id == fraud
        assert session.set_experiment("fraud").experiment_id == experiment_id_for("fraud#2")

        client.set_experiment_tag(fraud, "stage", "dev")
        client.delete_experiment_tag(fraud, "team")
        assert dict(client.get_experiment(fraud).tags) == {"stage": "dev"}

        kept = client.create_run(churn, run_name="kept").info.run_id
        alone = client.create_run(churn, run_name="deleted alone").info.run_id
        client.delete_run(alone)
        client.delete_experiment(churn)
        assert client.get_experiment(churn).lifecycle_stage == "deleted"
        # as in MLflow, the experiment's runs are deleted with it ...
        assert client.get_run(kept).info.lifecycle_stage == "deleted"
        with pytest.raises(ExperimentDeletedError, match="restore it or use another name"):
            session.set_experiment("churn")
        assert {e.name for e in client.search_experiments()} == {"fraud", "fraud-v2"}
        assert [e.name for e in client.search_experiments("DELETED_ONLY")] == ["churn"]
        assert len(client.search_experiments(view_type=tracklog.ViewType.ALL)) == 3
        tagged = client.search_experiments(filter_string="tags.stage = 'dev'")
        assert [e.experiment_id for e in tagged] == [fraud]
        first = client.search_experiments(
            max_results=1, filter_string="name LIKE 'fraud%'", order_by=["name DESC"]
        )
        assert [e.name for e in first] == ["fraud-v2"] and first.token
        second = client.search_experiments(
            max_results=1,
            filter_string="name LIKE 'fraud%'",
            order_by=["name DESC"],
            page_token=first.token,
        )
        assert [e.name for e in second] == ["fraud"] and not second.token
        with pytest.raises(TracklogError) as bad:
            client.search_experiments(filter_string="name = 'x' OR 1=1")
        assert bad.value.code == "INVALID_ARGUMENT" and "position 11: expected AND" in str(
            bad.value
        )

        client.restore_experiment(churn)
        assert client.get_experiment(churn).lifecycle_stage == "active"
        # ... and restored with it, except a run that was deleted on its own before
        assert client.get_run(kept).info.lifecycle_stage == "active"
        assert client.get_run(alone).info.lifecycle_stage == "deleted"

        # A rename racing past the client's check: the projection keeps the first owner.
        session.emit(churn, [events_tracking.experiment_renamed("fraud-v2")])
        assert client.get_experiment(churn).name == "churn"
        assert client.get_experiment(fraud).name == "fraud-v2"
        wait_until(lambda: pipeline.worker.stats.dead_letters >= 1, what="a dead letter")


def test_runs_lifecycle_inputs_and_history(settings: Settings, clickhouse_client: Any) -> None:
    pd = pytest.importorskip("pandas")
    with (
        running_pipeline(settings, clickhouse_client) as pipeline,
        client_of(settings, pipeline) as (client, _),
    ):
        experiment_id = client.create_experiment("runs")
        created = client.create_run(experiment_id, run_name="first", tags={"k": "v"})
        run_id = created.info.run_id
        assert created.info.status == "RUNNING" and created.data.tags["k"] == "v"
        client.log_batch(
            run_id,
            metrics=[Metric("loss", 0.5, 1_000, 0), Metric("loss", 0.25, 1_001, 1)],
            params=[Param("lr", 0.1)],
            tags=[RunTag("phase", "train")],
        )
        client.log_param(run_id, "lr", 0.1)  # the same value again is fine
        with pytest.raises(ValueError, match="write-once"):
            client.log_param(run_id, "lr", 0.2)
        client.delete_tag(run_id, "k")
        frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
        dataset = tracklog.data.from_pandas(frame, source="s3://bucket/train.csv", name="train")
        client.log_input(run_id, dataset, context="training")
        client.log_input(run_id, dataset, context="training")  # recorded once
        client.update_run(run_id, name="renamed")

        run = client.get_run(run_id)
        assert run.info.run_name == "renamed" and run.data.tags["mlflow.runName"] == "renamed"
        assert "k" not in run.data.tags and run.data.tags["phase"] == "train"
        assert dict(run.data.metrics) == {"loss": 0.25} and dict(run.data.params) == {"lr": "0.1"}
        (used,) = run.inputs
        assert (used.name, used.digest, used.context, used.source_type) == (
            "train",
            dataset.digest,
            "training",
            "s3",
        )
        assert '"name": "x"' in used.schema and '"num_rows": 2' in used.profile

        client.set_terminated(run_id, "KILLED", end_time=1_700_000_000_000)
        ended = client.get_run(run_id).info
        assert (ended.status, ended.end_time) == ("KILLED", 1_700_000_000_000)
        client.update_run(run_id, status="RUNNING")
        assert client.get_run(run_id).info.end_time is None
        client.delete_run(run_id)
        assert client.get_run(run_id).info.lifecycle_stage == "deleted"
        client.restore_run(run_id)
        assert client.get_run(run_id).info.lifecycle_stage == "active"
        history = client.get_metric_history(run_id, "loss")
        assert [(m.step, m.value) for m in history] == [(0, 0.5), (1, 0.25)]
        with pytest.raises(TracklogError) as missing:
            client.get_run("nope")
        assert missing.value.code == "NOT_FOUND"


def test_log_then_get_always_sees_the_write(settings: Settings, clickhouse_client: Any) -> None:
    with (
        running_pipeline(settings, clickhouse_client) as pipeline,
        client_of(settings, pipeline) as (client, _),
    ):
        run_id = client.create_run(client.create_experiment("ryw")).info.run_id
        started = time.perf_counter()
        for i in range(1_000):
            client.log_metric(run_id, "loss", float(i), step=i)
            assert client.get_run(run_id).data.metrics["loss"] == float(i)
        elapsed = time.perf_counter() - started
        print(f"1000 log-then-get iterations: {elapsed:.1f}s ({elapsed:.2f} ms each)")


def test_fluent_functions(settings: Settings, clickhouse_client: Any) -> None:
    from tracklog.session import default

    with running_pipeline(settings, clickhouse_client) as pipeline:
        tracklog.configure(settings.kafka, linger_seconds=0.002, query_addr=pipeline.address)
        try:
            experiment_id = tracklog.create_experiment("fluent", tags={"a": "1"})
            tracklog.set_experiment("fluent")
            tracklog.set_experiment_tags({"b": "2"})
            with tracklog.start_run(tags={"gone": "soon"}) as run:
                tracklog.delete_tag("gone")
                tracklog.log_input(Dataset("d", "0123abcd"), context="eval")
                tracklog.set_experiment_tag("c", "3")
            got = tracklog.get_run(run.run_id)
            assert "gone" not in got.data.tags and got.info.status == "FINISHED"
            assert [(d.name, d.context) for d in got.inputs] == [("d", "eval")]
            (experiment,) = tracklog.search_experiments(filter_string="name = 'fluent'")
            assert experiment.experiment_id == experiment_id
            assert dict(experiment.tags) == {"a": "1", "b": "2", "c": "3"}
        finally:
            with default._lock:
                session, default._default = default._default, None
            if session is not None:
                session.close(10)


def test_an_experiments_artifact_location_holds_its_runs_artifacts(
    settings: Settings, clickhouse_client: Any, tmp_path: Any
) -> None:
    location = (tmp_path / "custom-root").as_uri()
    with (
        running_pipeline(settings, clickhouse_client) as pipeline,
        client_of(settings, pipeline) as (client, _session),
    ):
        experiment_id = client.create_experiment("placed", artifact_location=location)
        assert client.get_experiment(experiment_id).artifact_location == location
        run = client.create_run(experiment_id, run_name="placed-run")
        run_id = run.info.run_id
        assert run.info.artifact_uri == f"{location}/{run_id}/artifacts"
        client.log_text(run_id, "hello", "notes/hello.txt")
        assert client.get_run(run_id).info.artifact_uri == run.info.artifact_uri
        stored = tmp_path / "custom-root" / run_id / "artifacts" / "notes" / "hello.txt"
        assert stored.read_text() == "hello"
        assert [f.path for f in client.list_artifacts(run_id, "notes")] == ["notes/hello.txt"]


def test_a_location_outside_the_deployment_s_roots_is_refused_before_writing(
    settings: Settings, clickhouse_client: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The query service advertises its roots (GetServiceInfo); the SDK refuses a location
    outside them before it sends anything (issue 12, item 6)."""
    monkeypatch.setenv("TRACKLOG_ARTIFACT_ROOTS", "s3://ml/tracklog")
    with (
        running_pipeline(settings, clickhouse_client) as pipeline,
        client_of(settings, pipeline) as (client, session),
    ):
        elsewhere = str(tmp_path / "elsewhere")
        with pytest.raises(ValueError, match="outside the allowed artifact roots") as refused:
            client.create_experiment("forged", artifact_location=elsewhere)
        assert "s3://ml/tracklog" in str(refused.value)
        with pytest.raises(ValueError, match="s3://ml/tracklog"):
            session.set_experiment("forged-too", artifact_location="s3://ml/other")
        placed = client.create_experiment("placed", artifact_location="s3://ml/tracklog/placed")
        assert client.get_experiment(placed).artifact_location == "s3://ml/tracklog/placed"
        assert client.get_experiment_by_name("forged") is None
        assert client.get_experiment_by_name("forged-too") is None
