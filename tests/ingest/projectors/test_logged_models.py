"""Logged-model events: decode rules, pure projection (the same twice), SDK builders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tracklog.contract.envelopes import envelope
from tracklog.events import logged_models as events
from tracklog.ingest.decode.envelope import InvalidEvent, validate
from tracklog.ingest.projectors.logged_models import (
    LoggedModelChange,
    LoggedModelRow,
    ModelInputRow,
    ModelMetricRows,
    ModelOutputRow,
)
from tracklog.ingest.projectors.postgres import project
from tracklog.v1 import events_pb2 as pb

NS = 1_700_000_000_000_000_000
AT = datetime.fromtimestamp(NS / 1e9, UTC)
MODEL = "m-" + "a" * 32
METRIC = events.ModelMetric("acc", 0.5, 1000, 2, dataset_name="eval", dataset_digest="d1")


def wrap(aggregate_id: str, payload: object) -> pb.Envelope:
    return envelope(
        event_id="e1",
        aggregate_id=aggregate_id,
        occurred_ns=NS,
        payload=payload,  # type: ignore[arg-type]
        producer_session="s1",
        sequence=1,
    )


def created(**changes: object) -> pb.LoggedModelCreated:
    fields: dict[str, object] = {
        "experiment_id": "exp",
        "name": "model",
        "source_run_id": "run1",
        "model_type": "",
        "artifact_location": f"file:///a/models/{MODEL}/artifacts",
        "creation_ns": NS,
        "tags": {"t": "1"},
        "params": {"p": "2"},
    }
    return events.logged_model_created(**{**fields, **changes})  # type: ignore[arg-type]


def test_each_event_projects_to_its_operation_and_twice_the_same() -> None:
    cases = [
        (
            wrap(MODEL, created()),
            LoggedModelRow(
                MODEL,
                "exp",
                "model",
                "run1",
                "",
                f"file:///a/models/{MODEL}/artifacts",
                AT,
                (("t", "1"),),
                (("p", "2"),),
            ),
        ),
        (
            wrap(MODEL, events.logged_model_finalized("READY")),
            LoggedModelChange(MODEL, AT, status="READY"),
        ),
        (
            wrap(MODEL, events.logged_model_tag_set("k", "v")),
            LoggedModelChange(MODEL, AT, tag=("k", "v")),
        ),
        (
            wrap(MODEL, events.logged_model_tag_deleted("k")),
            LoggedModelChange(MODEL, AT, tag=("k", None)),
        ),
        (
            wrap(MODEL, events.logged_model_params_logged({"q": 1})),
            LoggedModelChange(MODEL, AT, params=(("q", "1"),)),
        ),
        (wrap(MODEL, events.logged_model_deleted(NS)), LoggedModelChange(MODEL, AT, deleted=True)),
        (wrap("run1", events.logged_model_output(MODEL, 4)), ModelOutputRow("run1", MODEL, 4)),
        (wrap("run1", events.logged_model_input(MODEL)), ModelInputRow("run1", MODEL)),
        (
            wrap(MODEL, events.logged_model_metrics_logged("run1", [METRIC])),
            ModelMetricRows(MODEL, "run1", (("acc", 0.5, 1000, 2, "eval", "d1"),)),
        ),
    ]
    for env, expected in cases:
        validate(env)
        assert project(env) == [expected] == project(env)


def test_model_events_travel_on_the_model_and_outputs_on_the_run() -> None:
    assert wrap(MODEL, created()).aggregate_type == pb.AGGREGATE_TYPE_LOGGED_MODEL
    output = wrap("run1", events.logged_model_output(MODEL, 0))
    assert output.aggregate_type == pb.AGGREGATE_TYPE_RUN
    output.aggregate_type = pb.AGGREGATE_TYPE_LOGGED_MODEL
    with pytest.raises(InvalidEvent, match="AGGREGATE_TYPE_RUN"):
        validate(output)
    model_input = wrap("run1", events.logged_model_input(MODEL))
    assert model_input.aggregate_type == pb.AGGREGATE_TYPE_RUN
    model_input.logged_model_input.model_id = "not/an id"
    with pytest.raises(InvalidEvent, match="model_id"):
        validate(model_input)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (pb.LoggedModelCreated(experiment_id="exp", artifact_location="x"), "needs a name"),
        (
            pb.LoggedModelCreated(
                experiment_id="exp", name="m", creation_time=Timestamp(seconds=1)
            ),
            "artifact location",
        ),
        (pb.LoggedModelCreated(experiment_id="exp", name="m", artifact_location="x"), "creation"),
        (pb.LoggedModelFinalized(status=pb.LOGGED_MODEL_STATUS_UNSPECIFIED), "status"),
        (pb.LoggedModelTagSet(tag=pb.Tag(key="../x", value="v")), "tag key"),
        (pb.LoggedModelTagSet(tag=pb.Tag(key="k", value="a\x00")), "NUL"),
        (
            pb.LoggedModelParamsLogged(params=[pb.Tag(key="p", value="1"), pb.Tag(key="p")]),
            "given twice",
        ),
        (pb.LoggedModelMetricsLogged(run_id="run1"), "without a point"),
        (
            pb.LoggedModelMetricsLogged(run_id="run1", metrics=[pb.ModelMetricPoint(key="a b!")]),
            "metric key",
        ),
    ],
)
def test_invalid_events_are_rejected(payload: object, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        validate(wrap(MODEL, payload))


def test_sdk_builders_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="status must be one of"):
        events.logged_model_finalized("DONE")
    with pytest.raises(ValueError, match="needs a name"):
        created(name="")
    with pytest.raises(ValueError):
        events.logged_model_tag_set("bad key!", "v")
    with pytest.raises(ValueError):
        events.logged_model_output("not/an id", 0)
    with pytest.raises(ValueError):
        events.logged_model_input("")
