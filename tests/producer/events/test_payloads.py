from __future__ import annotations

import uuid

import pytest

from tracklog.contract import envelopes
from tracklog.contract.ids import (
    DEFAULT_EXPERIMENT_ID,
    TRACKLOG_NAMESPACE,
    experiment_id_for,
    new_run_id,
)
from tracklog.events import payloads as events
from tracklog.v1 import events_pb2 as pb


def test_experiment_ids_are_deterministic_and_default_is_zero() -> None:
    assert experiment_id_for("Default") == DEFAULT_EXPERIMENT_ID == "0"
    assert experiment_id_for("mnist") == experiment_id_for("mnist")
    assert experiment_id_for("mnist") == uuid.uuid5(TRACKLOG_NAMESPACE, "mnist").hex
    assert experiment_id_for("mnist") != experiment_id_for("cifar")


def test_run_ids_are_uuid4_hex() -> None:
    run_id = new_run_id()
    assert len(run_id) == 32 and uuid.UUID(hex=run_id).version == 4


def test_envelope_routes_payload_and_aggregate_type() -> None:
    payload = events.metrics_logged(["a", "b"], [0, 1], [10, 11], [0.5, float("nan")])
    env = envelopes.envelope(
        event_id="e1",
        aggregate_id="r1",
        occurred_ns=1_500_000_000_123,
        payload=payload,
        producer_session="s1",
        sequence=3,
    )
    decoded = pb.Envelope.FromString(env.SerializeToString())
    assert decoded.WhichOneof("payload") == "metrics_logged"
    assert decoded.aggregate_type == pb.AGGREGATE_TYPE_RUN
    assert (decoded.event_id, decoded.aggregate_id, decoded.sequence) == ("e1", "r1", 3)
    assert (decoded.occurred_at.seconds, decoded.occurred_at.nanos) == (1500, 123)
    assert list(decoded.metrics_logged.keys) == ["a", "b"]
    assert list(decoded.metrics_logged.timestamps_ms) == [10, 11]


def test_experiment_created_is_an_experiment_event() -> None:
    env = envelopes.envelope(
        event_id="e",
        aggregate_id="x",
        occurred_ns=0,
        payload=events.experiment_created("x", 2_000_000_000),
        producer_session="s1",
        sequence=1,
    )
    assert env.aggregate_type == pb.AGGREGATE_TYPE_EXPERIMENT
    assert env.experiment_created.creation_time.seconds == 2


def test_builders_are_pure() -> None:
    def build() -> bytes:
        payload = events.run_started(
            experiment_id="0",
            run_name="n",
            parent_run_id=None,
            tags=[("mlflow.user", "u")],
            start_ns=5,
            user_id="u",
        )
        return envelopes.envelope(
            event_id="e",
            aggregate_id="r",
            occurred_ns=5,
            payload=payload,
            producer_session="s1",
            sequence=1,
        ).SerializeToString()

    assert build() == build()


def test_run_ended_statuses() -> None:
    assert events.run_ended("FAILED", 0).status == pb.RUN_STATUS_FAILED
    assert events.run_ended("KILLED", 0).status == pb.RUN_STATUS_KILLED
    with pytest.raises(ValueError, match="status"):
        events.run_ended("RUNNING", 0)


def test_metric_columns_must_be_parallel() -> None:
    with pytest.raises(ValueError, match="same length"):
        events.metrics_logged(["a"], [0, 1], [0], [1.0])
