"""`Runs`, the run part of a Session (through the Session, as the SDK uses it): live and
ended runs, write-once params, and ending what is still live."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.producer.fakes import RecordingSink
from tracklog import Param, Session
from tracklog.events.payloads import run_ended


def test_end_active_runs_ends_the_live_runs_newest_first(
    session: Session, sink: RecordingSink
) -> None:
    outer = session.start_run(run_name="outer")
    inner = session.start_run(run_name="inner", nested=True)
    assert session.last_ended_run_id is None
    session.end_active_runs("KILLED")
    assert session.active_run() is None
    assert session.last_ended_run_id == outer.run_id
    assert session.flush(5)
    ended = [key for key, env in sink.messages if env.WhichOneof("payload") == "run_ended"]
    assert ended == [inner.run_id, outer.run_id]
    statuses = {env.run_ended.status for _, env in sink.messages if env.HasField("run_ended")}
    assert statuses == {run_ended("KILLED", 0).status}


def test_a_param_is_write_once_per_run_and_a_refused_batch_caches_nothing(
    session: Session,
) -> None:
    with session.start_run() as run:
        session.log_param("a", 1)
        with pytest.raises(ValueError, match="write-once"):
            session.log_batch(run.run_id, params=[Param("b", 1), Param("a", 2)])
        session.log_param("b", 2)  # the refused call kept nothing of 'b'
        with pytest.raises(ValueError, match="write-once"):
            session.log_param("b", 1)


def test_logging_to_a_run_of_another_session_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="not active in this session"):
        session.log_batch("0" * 32, params=[Param("a", 1)])


def test_ending_a_run_by_id_that_is_not_live_does_nothing(
    session: Session, sink: RecordingSink
) -> None:
    session.end_run_by_id("0" * 32)
    session.end_run()  # no active run: a no-op, as in MLflow
    assert session.flush(5)
    assert sink.payloads() == []


def test_metrics_of_a_known_key_set_are_checked_all_the_same(
    session: Session, sink: RecordingSink
) -> None:
    with session.start_run() as run:
        session.log_metrics({"a": 1.0, "b": 2.0}, step=1, timestamp=5)  # the key set is known
        session.log_metrics({"a": np.float64(3.0), "b": 4}, step=np.int64(2), timestamp=6)  # type: ignore[arg-type]
        bad_values: list[dict[str, object]] = [{"a": 1.0, "b": True}, {"a": 1.0, "b": "x"}]
        for bad in bad_values:
            with pytest.raises(ValueError, match="value of metric 'b' must be a number"):
                session.log_metrics(bad, step=3)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="step of metric 'a'"):
            session.log_metrics({"a": 1.0, "b": 2.0}, step=2**63)
        session.log_metrics({})  # nothing to queue
    assert session.flush(5)
    logged = [env.metrics_logged for key, env in sink.messages if env.HasField("metrics_logged")]
    assert [
        (list(m.keys), list(m.steps), list(m.timestamps_ms), list(m.values)) for m in logged
    ] == [(["a", "b", "a", "b"], [1, 1, 2, 2], [5, 5, 6, 6], [1.0, 2.0, 3.0, 4.0])]
    assert {key for key, env in sink.messages if env.HasField("metrics_logged")} == {run.run_id}


def test_the_active_run_ended_by_another_thread_refuses_metrics(session: Session) -> None:
    run = session.start_run()
    thread = threading.Thread(target=session.end_run_by_id, args=(run.run_id,))
    thread.start()
    thread.join()
    assert session.active_run() is run  # this thread's stack still names it
    with pytest.raises(ValueError, match="has ended"):
        session.log_metric("m", 1.0)
    with pytest.raises(ValueError, match="has ended"):
        session.log_metrics({"m": 1.0})
