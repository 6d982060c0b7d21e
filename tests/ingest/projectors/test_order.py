"""Every last-writer-wins operation carries its event's order key; metric points and params
carry none (they are not last-writer-wins). Pure."""

from __future__ import annotations

from google.protobuf.message import Message

from tests.ingest.writers.ordered_events import stamped
from tracklog.ingest.projectors.logged_models import LoggedModelChange
from tracklog.ingest.projectors.logged_models import project as project_logged_model
from tracklog.ingest.projectors.order import order_key
from tracklog.ingest.projectors.postgres import LatestMetricRow, ParamRow, project
from tracklog.v1 import events_pb2 as pb

RUN, EXP, MODEL = "r" * 32, "e" * 32, "m-" + "a" * 32
LAST_WRITER_WINS: list[tuple[str, Message]] = [
    (RUN, pb.RunStarted(experiment_id=EXP, tags=[pb.Tag(key="k", value="v")])),
    (RUN, pb.TagsSet(tags=[pb.Tag(key="k", value="v")])),
    (RUN, pb.RunTagDeleted(key="k")),
    (RUN, pb.RunEnded(status=pb.RUN_STATUS_FINISHED)),
    (RUN, pb.RunRenamed(new_name="n")),
    (RUN, pb.RunDeleted()),
    (RUN, pb.RunRestored()),
    (EXP, pb.ExperimentCreated(name="x", tags=[pb.Tag(key="k", value="v")])),
    (EXP, pb.ExperimentRenamed(new_name="y")),
    (EXP, pb.ExperimentTagSet(tag=pb.Tag(key="k", value="v"))),
    (EXP, pb.ExperimentTagDeleted(key="k")),
    (EXP, pb.ExperimentDeleted()),
    ("rm" * 16, pb.RegisteredModelAliasSet(alias="a", version=1)),
    ("rm" * 16, pb.ModelVersionStageTransitioned(version=1, stage=pb.MODEL_VERSION_STAGE_STAGING)),
]


def test_last_writer_wins_operations_carry_their_events_order_key() -> None:
    for aggregate, payload in LAST_WRITER_WINS:
        event = stamped(aggregate, payload, at=3, session="cafe", sequence=7)
        ops = project(event)
        assert ops, payload
        for op in ops:
            assert op.order == order_key(event), op  # type: ignore[union-attr]


def test_logged_model_changes_carry_it_too() -> None:
    for payload in (
        pb.LoggedModelFinalized(status=pb.LOGGED_MODEL_STATUS_READY),
        pb.LoggedModelTagSet(tag=pb.Tag(key="k", value="v")),
        pb.LoggedModelTagDeleted(key="k"),
    ):
        event = stamped(MODEL, payload, at=1, session="cafe", sequence=2)
        op = project_logged_model(event)
        assert isinstance(op, LoggedModelChange) and op.order == order_key(event)


def test_the_key_is_not_part_of_what_an_operation_does() -> None:
    one = stamped(RUN, pb.TagsSet(tags=[pb.Tag(key="k", value="v")]), at=1)
    other = stamped(RUN, pb.TagsSet(tags=[pb.Tag(key="k", value="v")]), at=2, session="b")
    assert project(one) == project(other)  # same rows, as replay tests compare them
    assert project(one)[0].order != project(other)[0].order  # type: ignore[union-attr]


def test_points_and_params_carry_no_key() -> None:
    metrics = pb.MetricsLogged(keys=["m"], steps=[1], timestamps_ms=[1], values=[1.0])
    params = pb.ParamsLogged(params=[pb.Param(key="p", value="1")])
    for payload in (metrics, params):
        (op,) = project(stamped(RUN, payload, at=1))
        assert isinstance(op, LatestMetricRow | ParamRow)
        assert not hasattr(op, "order")
