"""Session behaviour against in-memory sinks (no broker)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from tests.producer.fakes import RecordingSink, SilentSink, StalledSink
from tracklog import BufferFullError, Metric, Session
from tracklog.contract.ids import experiment_id_for
from tracklog.v1 import events_pb2 as pb


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def session(sink: RecordingSink) -> Iterator[Session]:
    s = Session(sink_factory=lambda: sink, linger_seconds=0.01)
    yield s
    s.close(5)


def test_run_events_in_call_order_with_sequences(session: Session, sink: RecordingSink) -> None:
    exp = session.set_experiment("mnist")
    with session.start_run(run_name="r", tags={"team": "a"}) as run:
        session.log_param("lr", 0.1)
        session.log_metric("loss", 1.0)
        session.log_metrics({"loss": 0.5, "acc": 0.9}, step=1)
        session.set_tags({"phase": "train"})
        session.log_metric("loss", 0.25, step=2, timestamp=7)
    assert session.flush(5)
    assert sink.messages[0][0] == exp.experiment_id == experiment_id_for("mnist")
    run_events = [env for key, env in sink.messages if key == run.run_id]
    kinds = [env.WhichOneof("payload") for env in run_events]
    assert kinds == [
        "run_started",
        "params_logged",
        "metrics_logged",
        "tags_set",
        "metrics_logged",
        "run_ended",
    ]
    assert [env.sequence for env in run_events] == [1, 2, 3, 4, 5, 6]
    started = run_events[0].run_started
    assert started.experiment_id == exp.experiment_id and started.run_name == "r"
    tags = {t.key: t.value for t in started.tags}
    assert tags["team"] == "a" and tags["mlflow.runName"] == "r"
    assert {"mlflow.user", "mlflow.source.name"} <= set(tags)
    metrics = run_events[2].metrics_logged
    assert list(metrics.keys) == ["loss", "loss", "acc"] and list(metrics.steps) == [0, 1, 1]
    assert list(run_events[4].metrics_logged.timestamps_ms) == [7]
    assert run_events[5].run_ended.status == pb.RUN_STATUS_FINISHED


def test_default_experiment_is_zero_and_created_once(session: Session, sink: RecordingSink) -> None:
    for _ in range(2):
        with session.start_run() as run:
            assert run.info.experiment_id == "0"
    session.set_experiment("x")
    session.set_experiment("x")
    session.flush(5)
    created = [
        env.experiment_created.name
        for _, env in sink.messages
        if env.HasField("experiment_created")
    ]
    assert created == ["Default", "x"]


def test_exception_ends_run_failed_and_is_reraised(session: Session, sink: RecordingSink) -> None:
    with pytest.raises(RuntimeError, match="boom"), session.start_run():
        raise RuntimeError("boom")
    assert session.active_run() is None
    session.flush(5)
    assert sink.messages[-1][1].run_ended.status == pb.RUN_STATUS_FAILED


def test_nested_runs_and_the_already_active_error(session: Session, sink: RecordingSink) -> None:
    with session.start_run() as parent:
        with pytest.raises(ValueError, match="already active"):
            session.start_run()
        with session.start_run(nested=True) as child:
            assert session.active_run() is child
            assert child.info.parent_run_id == parent.run_id
        assert session.active_run() is parent
    session.flush(5)
    started = next(env.run_started for key, env in sink.messages if key == child.run_id)
    assert started.parent_run_id == parent.run_id
    assert {t.key: t.value for t in started.tags}["mlflow.parentRunId"] == parent.run_id


def test_active_runs_are_per_thread(session: Session) -> None:
    seen: list[object] = []
    with session.start_run():
        thread = threading.Thread(target=lambda: seen.append(session.active_run()))
        thread.start()
        thread.join()
    assert seen == [None]


def test_invalid_calls_raise_and_queue_nothing(session: Session, sink: RecordingSink) -> None:
    with session.start_run() as run:
        session.log_param("p", 1)
        session.log_param("p", "1")  # same value again is fine
        bad_calls: list[Callable[[], object]] = [
            lambda: session.log_metric("bad key!", 1.0),
            lambda: session.log_metric("m", "nan"),  # type: ignore[arg-type]
            lambda: session.log_param("long", "x" * 6001),
            lambda: session.log_param("p", 2),
            lambda: session.log_metrics({"ok": 1.0, "bad": "x"}),  # type: ignore[dict-item]
            lambda: session.log_batch(run.run_id, [Metric("ok", 1.0, 0, -(2**64))]),
            lambda: session.set_tag("t", "x" * 8001),
        ]
        for call in bad_calls:
            with pytest.raises(ValueError):
                call()
    with pytest.raises(ValueError, match="has ended"):
        session.log_batch(run.run_id, [Metric("m", 1.0, 0, 0)])
    session.flush(5)
    kinds = [env.WhichOneof("payload") for key, env in sink.messages if key == run.run_id]
    assert kinds == ["run_started", "params_logged", "run_ended"]


def test_logging_without_an_active_run_starts_one_as_mlflow_does(
    session: Session, sink: RecordingSink
) -> None:
    assert session.active_run() is None
    session.log_metric("m", 1.0)
    run = session.active_run()
    assert run is not None
    session.end_run()
    session.flush(5)
    kinds = [env.WhichOneof("payload") for key, env in sink.messages if key == run.run_id]
    assert kinds == ["run_started", "metrics_logged", "run_ended"]


def test_stalled_sender_leads_to_buffer_full_error() -> None:
    stalled = StalledSink()
    s = Session(
        sink_factory=lambda: stalled,
        max_buffered_points=100,
        max_block_seconds=0.2,
        linger_seconds=0.01,
    )
    with s.start_run():
        for step in range(100):
            s.log_metric("m", 1.0, step=step)
        with pytest.raises(BufferFullError, match="metric points"):
            for step in range(100, 400):
                s.log_metric("m", 1.0, step=step)
        stalled.resume()
    assert s.flush(5)
    assert s.close(5).points == 0


def test_flush_times_out_when_nothing_is_acknowledged() -> None:
    silent = SilentSink()
    s = Session(sink_factory=lambda: silent, linger_seconds=0.01)
    with s.start_run():
        s.log_metric("m", 1.0)
    assert not s.flush(0.2)
    unsent = s.close(0.2)
    # ExperimentCreated("Default"), RunStarted, RunEnded, and the point
    assert unsent.events == 3 and unsent.points == 1


def test_a_call_larger_than_an_event_is_split_into_events_well_under_the_producer_limit(
    session: Session, sink: RecordingSink
) -> None:
    """The issue's reproduction: 200 params of 6,000 characters (1.2 MB) in one call."""
    params = {f"p{i}": "x" * 6000 for i in range(200)}
    tags = {f"t{i}": "y" * 100 for i in range(250)}
    with session.start_run() as run:
        session.log_params(params)
        session.set_tags(tags)
        session.log_metric("after", 1.0)
    assert session.flush(5)
    events = [env for key, env in sink.messages if key == run.run_id]
    logged = [e.params_logged for e in events if e.WhichOneof("payload") == "params_logged"]
    assert {p.key: p.value for e in logged for p in e.params} == params
    assert all(len(e.params) <= 100 for e in logged)  # MLflow's log_batch limit
    tag_events = [e.tags_set for e in events if e.WhichOneof("payload") == "tags_set"]
    assert {t.key: t.value for e in tag_events for t in e.tags} == tags
    assert [len(e.tags) for e in tag_events] == [100, 100, 50]
    limit = 1_048_576  # kafka-python's default max_request_size = TRACKLOG_MAX_EVENT_BYTES
    assert session.event_split_bytes == limit // 2
    assert max(e.ByteSize() for e in events) <= limit // 2
    assert len(logged) == 3  # 100 params of 6 KB = 600 KB: over half the limit, cut again
    assert "after" in [k for e in events for k in e.metrics_logged.keys]


def test_the_split_follows_the_configured_request_size() -> None:
    sink = RecordingSink()
    session = Session(
        sink_factory=lambda: sink,
        linger_seconds=0.01,
        query_addr="",
        producer_options={"max_request_size": 64 * 1024},
    )
    tags = {f"tag{i}": "v" * 3000 for i in range(30)}
    with session.start_run(tags=tags) as run:
        session.log_metrics({f"m{i}": float(i) for i in range(5000)})
    assert session.flush(5)
    session.close(5)
    events = [env for key, env in sink.messages if key == run.run_id]
    assert max(e.ByteSize() for e in events) <= 32 * 1024
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds[0] == "run_started" and kinds[1] == "tags_set"  # start tags split too
    got = {t.key: t.value for e in events for t in [*e.run_started.tags, *e.tags_set.tags]}
    assert {k: got[k] for k in tags} == tags
    assert sum(len(e.metrics_logged.keys) for e in events) == 5000


def test_an_event_that_cannot_fit_raises_before_anything_is_queued() -> None:
    sink = RecordingSink()
    session = Session(
        sink_factory=lambda: sink,
        linger_seconds=0.01,
        query_addr="",
        producer_options={"max_request_size": 8 * 1024},
    )
    with session.start_run() as run:
        with pytest.raises(ValueError, match="larger than Tracklog can send"):
            session.log_param("big", "é" * 6000)  # within MLflow's 6,000 characters: 12 KB
        session.log_param("small", "ok")
    assert session.flush(5)
    session.close(5)
    params = [
        p.key for key, env in sink.messages if key == run.run_id for p in env.params_logged.params
    ]
    assert params == ["small"]
