"""Lifecycle events: decode rules, pure projection (idempotent), and the writer's merge."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracklog.contract.envelopes import envelope
from tracklog.data import Dataset
from tracklog.events import lifecycle as events_tracking
from tracklog.ingest.decode.envelope import InvalidEvent, validate
from tracklog.ingest.projectors.postgres import RunEndRow, project
from tracklog.ingest.projectors.tracking import (
    DatasetInputRow,
    ExperimentRename,
    LifecycleChange,
    RunRename,
    TagChange,
)
from tracklog.v1 import events_pb2 as pb

NS = 1_700_000_000_000_000_000
AT = datetime.fromtimestamp(NS / 1e9, UTC)


def wrap(aggregate_id: str, payload: object) -> pb.Envelope:
    return envelope(
        event_id="e1",
        aggregate_id=aggregate_id,
        occurred_ns=NS,
        payload=payload,  # type: ignore[arg-type]
        producer_session="s1",
        sequence=1,
    )


def test_each_event_projects_to_its_operations_and_twice_the_same() -> None:
    dataset = Dataset("train", "abc123", "s3", '{"uri": "s3://b/t"}', "{}", '{"num_rows": 1}')
    cases = [
        (
            wrap("exp", events_tracking.experiment_renamed("new")),
            [ExperimentRename("exp", "new", AT)],
        ),
        (
            wrap("exp", events_tracking.experiment_deleted(NS)),
            [LifecycleChange("experiments", "exp", "deleted", AT, AT)],
        ),
        (
            wrap("exp", events_tracking.experiment_restored()),
            [LifecycleChange("experiments", "exp", "active", None, AT)],
        ),
        (
            wrap("exp", events_tracking.experiment_tag_set("team", "a")),
            [TagChange("experiment_tags", "exp", "team", "a")],
        ),
        (
            wrap("exp", events_tracking.experiment_tag_deleted("team")),
            [TagChange("experiment_tags", "exp", "team", None)],
        ),
        (
            wrap("run", events_tracking.run_renamed("better")),
            [RunRename("run", "better"), TagChange("tags", "run", "mlflow.runName", "better")],
        ),
        (
            wrap("run", events_tracking.run_deleted(NS)),
            [LifecycleChange("runs", "run", "deleted", AT, AT)],
        ),
        (
            wrap("run", events_tracking.run_restored()),
            [LifecycleChange("runs", "run", "active", None, AT)],
        ),
        (wrap("run", events_tracking.run_tag_deleted("x")), [TagChange("tags", "run", "x", None)]),
        (
            wrap("run", dataset.logged("training")),
            [
                DatasetInputRow(
                    "run",
                    "train",
                    "abc123",
                    "training",
                    "s3",
                    '{"uri": "s3://b/t"}',
                    "{}",
                    '{"num_rows": 1}',
                )
            ],
        ),
        (
            wrap(
                "run",
                events_tracking.dataset_input_logged(
                    name="eval",
                    digest="d2",
                    source_type="code",
                    source="{}",
                    schema="",
                    profile="",
                    context="",
                    tags=[("origin", "lab"), ("split", "b")],
                ),
            ),
            [
                DatasetInputRow(
                    *("run", "eval", "d2", "", "code", "{}", "", ""),
                    (("origin", "lab"), ("split", "b")),
                )
            ],
        ),
        (
            wrap("run", events_tracking.run_status("KILLED", 5)),
            [RunEndRow("run", "KILLED", datetime.fromtimestamp(0.005, UTC))],
        ),
        (
            wrap("run", events_tracking.run_status("RUNNING", 5)),
            [RunEndRow("run", "RUNNING", None)],
        ),
    ]
    for env, expected in cases:
        validate(env)
        assert project(env) == expected
        assert project(env) == project(env)


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        (wrap("exp", pb.ExperimentRenamed(new_name=" ")), "experiment name"),
        (wrap("exp", pb.ExperimentTagSet(tag=pb.Tag(key="../x", value="v"))), "tag key"),
        (wrap("run", pb.RunRenamed(new_name="")), "run name"),
        (wrap("run", pb.DatasetInputLogged(name="d")), "digest"),
        (wrap("run", pb.DatasetInputLogged(name="d", digest="x", schema="a\x00")), "NUL"),
    ],
)
def test_invalid_events_are_rejected(env: pb.Envelope, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        validate(env)


def test_a_run_event_on_an_experiment_aggregate_is_rejected() -> None:
    env = wrap("run", events_tracking.run_tag_deleted("x"))
    env.aggregate_type = pb.AGGREGATE_TYPE_EXPERIMENT
    with pytest.raises(InvalidEvent, match="AGGREGATE_TYPE_RUN"):
        validate(env)


def test_sdk_builders_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="run status"):
        events_tracking.run_status("DONE", None)
    with pytest.raises(ValueError, match="name and a digest"):
        Dataset("d", "").logged()
    with pytest.raises(ValueError):
        events_tracking.experiment_tag_set("bad key!", "v")
