"""The module-level functions delegate to a replaceable default session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tracklog
from tests.producer.fakes import RecordingSink
from tracklog.session import default


@pytest.fixture
def sink() -> Iterator[RecordingSink]:
    sink = RecordingSink()
    tracklog.configure(sink_factory=lambda: sink, linger_seconds=0.01)
    yield sink
    with default._lock:
        session, default._default = default._default, None
    if session is not None:
        session.close(5)


def test_fluent_calls_go_to_the_default_session(sink: RecordingSink) -> None:
    tracklog.set_experiment("fluent")
    with tracklog.start_run(run_name="f") as run:
        assert tracklog.active_run() is run
        tracklog.log_param("a", 1)
        tracklog.log_params({"b": 2})
        tracklog.log_metric("m", 1.0)
        tracklog.log_metrics({"n": 2.0})
        tracklog.set_tag("t", "1")
        tracklog.set_tags({"u": "2"})
        with tracklog.start_run(nested=True):
            tracklog.end_run("KILLED")
    assert tracklog.active_run() is None
    assert tracklog.flush(5)
    kinds = [env.WhichOneof("payload") for key, env in sink.messages if key == run.run_id]
    assert kinds == [
        "run_started",
        "params_logged",
        "params_logged",
        "metrics_logged",  # both points, sealed by the next non-metric event
        "tags_set",
        "tags_set",
        "run_ended",
    ]


def test_configure_flushes_and_replaces_the_old_session(sink: RecordingSink) -> None:
    old = tracklog.get_session()
    run = tracklog.start_run()
    tracklog.log_metric("m", 1.0)
    other = RecordingSink()
    new = tracklog.configure(sink_factory=lambda: other, linger_seconds=0.01)
    assert new is tracklog.get_session() is not old
    assert tracklog.active_run() is None  # the new session has its own runs
    assert sink.closed  # the old session was flushed, then closed
    assert [e.WhichOneof("payload") for _, e in sink.messages][-1] == "metrics_logged"
    with pytest.raises(RuntimeError, match="closed"):
        run.__exit__(None, None, None)
