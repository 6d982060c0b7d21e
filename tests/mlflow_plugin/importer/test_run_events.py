"""The pure parts of the importer: the same MLflow entity always gives the same events
(ids, payloads, order); content that changed gives new ids; the checkpoint round-trips."""

from __future__ import annotations

import math
from pathlib import Path

from mlflow.entities import Experiment, Param, Run, RunData, RunInfo, RunTag

from tracklog.contract.envelopes import ProducerSession
from tracklog.mlflow.importer import run_events
from tracklog.mlflow.importer.checkpoint import Checkpoint, RunMark, fingerprint
from tracklog.mlflow.importer.event_ids import event_id

RUN_ID = "a" * 32


def mlflow_run(status: str = "FINISHED", tags: dict[str, str] | None = None) -> Run:
    info = RunInfo(
        run_id=RUN_ID,
        experiment_id="7",
        user_id="ana",
        status=status,
        start_time=1_700_000_000_000,
        end_time=1_700_000_100_000,
        lifecycle_stage="deleted",
        artifact_uri="file:///x",
        run_name="r",
    )
    tag_list = [RunTag(k, v) for k, v in (tags or {"mlflow.parentRunId": "b" * 32}).items()]
    data = RunData(params=[Param("lr", "0.1")], tags=tag_list)
    return Run(info, data)


def build(run: Run, history: list[tuple[int, int, float]]) -> run_events.Built:
    builder = run_events.RunBuilder(ProducerSession(), run, "7", "file:///t", 200)
    builder.head()
    builder.metric("loss", history)
    builder.tail()
    return builder.built


HISTORY = [(s, 1_700_000_000_000 + s, 1.0 / (s + 1)) for s in range(10)] + [(10, 1, math.nan)]


def test_the_same_run_gives_the_same_events() -> None:
    first, second = build(mlflow_run(), HISTORY), build(mlflow_run(), HISTORY)
    assert [e.event_id for e in first.envelopes] == [e.event_id for e in second.envelopes]
    kinds = [e.WhichOneof("payload") for e in first.envelopes]
    assert kinds[:2] == ["run_started", "params_logged"]
    assert kinds[-2:] == ["run_ended", "run_deleted"]
    assert [e.sequence for e in first.envelopes] == list(range(1, len(kinds) + 1))
    points = [e.metrics_logged for e in first.envelopes if e.HasField("metrics_logged")]
    assert len(points) > 1  # cut by size (200 bytes here)
    assert sum(len(p.values) for p in points) == first.points == 11
    assert math.isnan(points[-1].values[-1])
    assert first.envelopes[0].run_started.parent_run_id == "b" * 32


def test_changed_content_gets_new_ids_and_unchanged_keeps_them() -> None:
    before = build(mlflow_run(), HISTORY)
    after = build(mlflow_run(status="FAILED"), HISTORY)
    ids_before = {e.WhichOneof("payload"): e.event_id for e in before.envelopes}
    ids_after = {e.WhichOneof("payload"): e.event_id for e in after.envelopes}
    assert ids_before["run_ended"] != ids_after["run_ended"]
    assert ids_before["run_started"] == ids_after["run_started"]
    assert ids_before["run_deleted"] == ids_after["run_deleted"]


def test_a_key_tracklog_refuses_is_skipped_not_sent() -> None:
    built = build(mlflow_run(tags={"ok": "1", "bad:key": "x"}), [])
    started = built.envelopes[0].run_started
    assert [t.key for t in started.tags] == ["ok"]
    assert [s.where for s in built.skipped] == [f"run {RUN_ID} tag 'bad:key'"]


def test_a_deleted_experiment_is_created_then_deleted() -> None:
    experiment = Experiment(
        "12", "old", "s3://b/12", "deleted", [], 1_600_000_000_000, 1_600_000_500_000
    )
    built = run_events.experiment(ProducerSession(), experiment, "12", "s3://b/12")
    assert [e.WhichOneof("payload") for e in built.envelopes] == [
        "experiment_created",
        "experiment_deleted",
    ]
    assert built.envelopes[0].experiment_created.artifact_location == "s3://b/12"
    assert event_id("12", "x") == event_id("12", "x") != event_id("13", "x")


def test_the_checkpoint_round_trips(tmp_path: Path) -> None:
    checkpoint = Checkpoint.load(tmp_path, "sqlite:///a.db", "broker/topic")
    digest = fingerprint(mlflow_run())
    checkpoint.record(RUN_ID, RunMark(digest, {"loss": 11}))
    checkpoint.save()
    again = Checkpoint.load(tmp_path, "sqlite:///a.db", "broker/topic")
    assert again.done(RUN_ID, digest) and again.sent_points(RUN_ID, "loss") == 11
    assert not again.done(RUN_ID, fingerprint(mlflow_run(status="FAILED")))
    assert Checkpoint.load(tmp_path, "sqlite:///a.db", "other/topic").runs == {}
