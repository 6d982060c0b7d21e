"""The Postgres projector is a pure function of the event."""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.ingest.events import (
    T0_MS,
    experiment_created,
    metrics_logged,
    params_logged,
    run_ended,
    run_started,
    tags_set,
)
from tracklog.contract.validation import metric_value
from tracklog.ingest.projectors.metric_columns import (
    Point,
    later,
    latest_per_key,
    metric_columns,
)
from tracklog.ingest.projectors.postgres import (
    ExperimentRow,
    ExperimentTagRow,
    LatestMetricRow,
    ParamRow,
    RunEndRow,
    RunRow,
    RunTagRow,
    project,
)
from tracklog.v1 import events_pb2 as pb

RUN = "r1"
T0 = datetime.fromtimestamp(T0_MS / 1000, UTC)

EVENTS = [
    experiment_created("e1", "exp", {"team": "ml"}),
    run_started(RUN, "e1", "first", {"mlflow.source": "x"}),
    params_logged(RUN, {"lr": "0.1"}),
    tags_set(RUN, {"phase": "train"}),
    metrics_logged(RUN, [("loss", 0, 10, 1.0), ("loss", 1, 11, 0.5)]),
    run_ended(RUN, pb.RUN_STATUS_FAILED),
]


@pytest.mark.parametrize("envelope", EVENTS, ids=lambda e: e.WhichOneof("payload"))
def test_projection_is_pure_and_idempotent(envelope: pb.Envelope) -> None:
    copy = pb.Envelope.FromString(envelope.SerializeToString())
    assert project(envelope) == project(envelope) == project(copy)
    assert envelope == copy  # the event is not modified


def test_rows_of_each_event() -> None:
    assert project(EVENTS[0]) == [
        ExperimentRow("e1", "exp", "/artifacts/e1", T0),
        ExperimentTagRow("e1", "team", "ml"),
    ]
    assert project(EVENTS[1]) == [
        RunRow(
            RUN,
            "e1",
            "first",
            "",
            "alice",
            "RUNNING",
            datetime.fromtimestamp(T0_MS / 1000 + 1, UTC),
        ),
        RunTagRow(RUN, "mlflow.source", "x"),
    ]
    assert project(EVENTS[2]) == [ParamRow(RUN, "lr", "0.1")]
    assert project(EVENTS[3]) == [RunTagRow(RUN, "phase", "train")]
    assert project(EVENTS[4]) == [LatestMetricRow(RUN, "loss", 1, 11, 0.5)]
    assert project(EVENTS[5]) == [
        RunEndRow(RUN, "FAILED", datetime.fromtimestamp(T0_MS / 1000 + 60, UTC))
    ]


def test_missing_times_fall_back_to_occurred_at() -> None:
    event = run_ended(RUN, pb.RUN_STATUS_FINISHED, seq=7)
    event.run_ended.ClearField("end_time")
    assert project(event) == [
        RunEndRow(RUN, "FINISHED", datetime.fromtimestamp((T0_MS + 7) / 1000, UTC))
    ]
    event.ClearField("occurred_at")
    assert project(event) == [RunEndRow(RUN, "FINISHED", None)]


def test_latest_metric_is_the_max_of_step_timestamp_value_per_key() -> None:
    event = metrics_logged(
        RUN,
        [
            ("loss", 5, 100, 0.1),
            ("loss", 5, 100, 0.3),  # same step and time: larger value wins
            ("loss", 4, 999, 9.0),  # earlier step loses whatever its time
            ("acc", 1, 50, 0.7),
            ("acc", 1, 51, 0.2),  # same step, later time wins
            ("nan", 1, 1, 5.0),
            ("nan", 1, 1, float("nan")),  # NaN is above every number (Postgres order)
            ("nan", 0, 9, 1.0),
            ("big", 0, 1, float("inf")),  # clamped like tracklog.contract.validation.metric_value
        ],
    )
    rows = {row.key: row for row in project(event) if isinstance(row, LatestMetricRow)}
    assert (rows["loss"].step, rows["loss"].timestamp_ms, rows["loss"].value) == (5, 100, 0.3)
    assert (rows["acc"].step, rows["acc"].timestamp_ms, rows["acc"].value) == (1, 51, 0.2)
    assert math.isnan(rows["nan"].value) and rows["nan"].step == 1
    assert rows["big"].value == sys.float_info.max


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.integers(-3, 3),
            st.integers(0, 3),
            st.one_of(st.sampled_from([0.0, -0.0, 1.0, math.nan, math.inf, -math.inf])),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_numpy_latest_per_key_is_the_postgres_order(
    points: list[tuple[str, int, int, float]],
) -> None:
    """latest_per_key (numpy) picks what `later` (Postgres' row order) picks, NaN included."""
    columns = metric_columns(metrics_logged(RUN, points).metrics_logged)
    expected: dict[str, Point] = {}
    for key, step, ts, value in points:
        point = (step, ts, metric_value(key, value))
        expected[key] = point if key not in expected else later(expected[key], point)
    got = latest_per_key(columns)
    assert got.keys() == expected.keys()
    for key, (step, ts, value) in expected.items():
        assert got[key][:2] == (step, ts)
        assert (math.isnan(value) and math.isnan(got[key][2])) or got[key][2] == value
