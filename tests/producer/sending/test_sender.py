"""The sender numbers events in one producer session (events.proto's `sequence`)."""

from __future__ import annotations

from collections.abc import Callable

from tests.producer.fakes import RecordingSink
from tracklog import Session


def _factory(sink: RecordingSink) -> Callable[[], RecordingSink]:
    return lambda: sink


def test_one_session_id_and_a_sequence_from_one_per_aggregate() -> None:
    sinks = [RecordingSink(), RecordingSink()]
    sessions = [Session(sink_factory=_factory(sink), linger_seconds=0.01) for sink in sinks]
    run_ids = []
    try:
        for session in sessions:
            session.set_experiment("numbered")
            with session.start_run() as run:
                session.log_param("lr", 0.1)
                session.log_metric("loss", 1.0)
            run_ids.append(run.run_id)
            assert session.flush(5)
    finally:
        for session in sessions:
            session.close(5)
    ids = []
    for sink, run_id in zip(sinks, run_ids, strict=True):
        (session_id,) = {env.producer_session for _, env in sink.messages}
        ids.append(session_id)
        by_aggregate: dict[str, list[int]] = {}
        for key, env in sink.messages:
            by_aggregate.setdefault(key, []).append(env.sequence)
        assert all(seq == list(range(1, len(seq) + 1)) for seq in by_aggregate.values())
        assert len(by_aggregate[run_id]) == 4  # started, params, metrics, ended
    assert ids[0] != ids[1]
