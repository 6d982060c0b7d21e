"""The SDK against the real broker (Tansu by default): what reaches the topic."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from kafka import KafkaConsumer, TopicPartition

from tracklog import Metric, Session
from tracklog.contract.settings import Settings
from tracklog.v1 import events_pb2 as pb

pytestmark = pytest.mark.integration


def read_topic(
    settings: Settings, expected: int, timeout: float = 30.0
) -> list[tuple[str, pb.Envelope]]:
    """Every message of the test's topic (partitions assigned by hand, no group).

    Polls until ``expected`` messages arrived, then a little longer to catch extras.
    """
    consumer = KafkaConsumer(
        **settings.kafka.client_options(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    try:
        partitions = [
            TopicPartition(settings.kafka.events_topic, p)
            for p in sorted(consumer.partitions_for_topic(settings.kafka.events_topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        by_partition: dict[int, list[tuple[str, pb.Envelope]]] = {}
        deadline, extra_until = time.monotonic() + timeout, None
        while time.monotonic() < deadline and (
            extra_until is None or time.monotonic() < extra_until
        ):
            for tp, records in consumer.poll(timeout_ms=200).items():
                for record in records:
                    envelope = pb.Envelope.FromString(record.value)
                    by_partition.setdefault(tp.partition, []).append(
                        (record.key.decode(), envelope)
                    )
            if extra_until is None and sum(map(len, by_partition.values())) >= expected:
                extra_until = time.monotonic() + 1.0
        return [message for messages in by_partition.values() for message in messages]
    finally:
        consumer.close()


def of(messages: list[tuple[str, pb.Envelope]], key: str) -> list[pb.Envelope]:
    return [envelope for k, envelope in messages if k == key]


def test_a_runs_events_arrive_in_order_keyed_by_run_id(settings: Settings) -> None:
    session = Session(settings.kafka, max_batch_points=1000)
    experiment = session.set_experiment("delivery")
    with session.start_run(run_name="ordered") as run:
        session.log_params({"lr": 0.01, "layers": 3})
        for step in range(2500):
            session.log_metrics({"loss": 1 / (step + 1), "acc": step / 2500}, step=step)
        session.set_tag("phase", "done")
    assert session.flush(30)
    session.close()

    messages = read_topic(settings, expected=1 + 1 + 1 + 5 + 1 + 1)
    assert [e.WhichOneof("payload") for e in of(messages, experiment.experiment_id)] == [
        "experiment_created"
    ]
    events = of(messages, run.run_id)
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds == ["run_started", "params_logged"] + ["metrics_logged"] * 5 + [
        "tags_set",
        "run_ended",
    ]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert all(
        e.aggregate_id == run.run_id and e.aggregate_type == pb.AGGREGATE_TYPE_RUN for e in events
    )
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.occurred_at.seconds > 0 for e in events)
    steps = [s for e in events[2:7] for s in e.metrics_logged.steps]
    assert steps == [s for step in range(2500) for s in (step, step)]
    assert events[0].run_started.experiment_id == experiment.experiment_id
    assert events[-1].run_ended.status == pb.RUN_STATUS_FINISHED


def test_exception_in_with_block_ends_the_run_failed(settings: Settings) -> None:
    session = Session(settings.kafka)
    with pytest.raises(KeyError), session.start_run() as run:
        session.log_metric("loss", 1.0)
        raise KeyError("boom")
    assert session.flush(30)
    session.close()
    events = of(read_topic(settings, expected=4), run.run_id)
    assert [e.WhichOneof("payload") for e in events] == [
        "run_started",
        "metrics_logged",
        "run_ended",
    ]
    assert events[-1].run_ended.status == pb.RUN_STATUS_FAILED


def test_invalid_input_raises_and_produces_nothing(settings: Settings) -> None:
    session = Session(settings.kafka)
    with session.start_run() as run:
        session.log_param("p", "v")
        session.log_metric("good", 1.0)
        bad_calls: list[Callable[[], object]] = [
            lambda: session.log_metric("bad key?", 1.0),
            lambda: session.log_metric("m", "NaN"),  # type: ignore[arg-type]
            lambda: session.log_param("long", "x" * 6001),
            lambda: session.log_param("p", "changed"),
            lambda: session.log_params({"q": 1, "bad key?": 2}),
        ]
        for call in bad_calls:
            with pytest.raises(ValueError):
                call()
    with pytest.raises(ValueError, match="ended"):
        session.log_batch(run.run_id, [Metric("good", 2.0, 0, 1)])
    assert session.flush(30)
    session.close()

    messages = read_topic(settings, expected=5)
    assert len(messages) == 5  # ExperimentCreated("Default") and the run's four events
    events = of(messages, run.run_id)
    assert [e.WhichOneof("payload") for e in events] == [
        "run_started",
        "params_logged",
        "metrics_logged",
        "run_ended",
    ]
    assert [(p.key, p.value) for p in events[1].params_logged.params] == [("p", "v")]
    assert list(events[2].metrics_logged.keys) == ["good"]
