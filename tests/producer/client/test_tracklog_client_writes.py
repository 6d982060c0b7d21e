"""`TracklogClient`'s logging calls without a server: what they check and what they queue."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from tests.producer.fakes import RecordingSink
from tracklog import Metric, Session, TracklogClient

RUN = "a" * 32


@pytest.fixture
def client(session: Session) -> Iterator[TracklogClient]:
    client = TracklogClient("127.0.0.1:1", session=session)  # never asked: writes only
    yield client
    client.close()


def _points(sink: RecordingSink) -> list[tuple[str, str, int, int, float]]:
    return [
        (key, *point)
        for key, env in sink.messages
        if env.HasField("metrics_logged")
        for point in zip(
            env.metrics_logged.keys,
            env.metrics_logged.steps,
            env.metrics_logged.timestamps_ms,
            env.metrics_logged.values,
            strict=True,
        )
    ]


def test_log_metric_queues_one_point_of_the_run(
    client: TracklogClient, session: Session, sink: RecordingSink
) -> None:
    client.log_metric(RUN, "loss", 0.5, timestamp=7, step=3)
    client.log_metric(RUN, "loss", np.float64(0.25), timestamp=8)  # type: ignore[arg-type]
    client.log_batch(RUN, metrics=[Metric("acc", 1, 9, 4)])
    assert session.flush(5)
    assert _points(sink) == [
        (RUN, "loss", 3, 7, 0.5),
        (RUN, "loss", 0, 8, 0.25),
        (RUN, "acc", 4, 9, 1.0),
    ]


@pytest.mark.parametrize("run_id", ["", "no/slash", "x" * 65, 5, None, ["a"]])
def test_an_invalid_run_id_is_refused_every_time(
    client: TracklogClient, session: Session, sink: RecordingSink, run_id: object
) -> None:
    for _ in range(2):  # a refused id is not remembered as valid
        with pytest.raises(ValueError, match="run id"):
            client.log_metric(run_id, "loss", 0.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="run id"):
            client.log_batch(run_id, metrics=[Metric("loss", 0.5, 0, 0)])  # type: ignore[arg-type]
    assert session.flush(5)
    assert sink.messages == []


def test_an_invalid_point_is_refused_and_queues_nothing(
    client: TracklogClient, session: Session, sink: RecordingSink
) -> None:
    client.log_metric(RUN, "loss", 0.5)  # the run id is known valid from here on
    for key, value, message in [
        ("bad key!", 1.0, "invalid metric key"),
        ("loss", "x", "must be a number"),
        ("loss", True, "must be a number"),
    ]:
        with pytest.raises(ValueError, match=message):
            client.log_metric(RUN, key, value)  # type: ignore[arg-type]
    assert session.flush(5)
    assert [key for key, *_ in _points(sink)] == [RUN]
