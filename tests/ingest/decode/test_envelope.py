"""decode() accepts what the SDK sends and rejects everything else with a reason."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.ingest.events import (
    experiment_created,
    metrics_logged,
    params_logged,
    run_ended,
    run_started,
    tags_set,
)
from tracklog.ingest.decode.envelope import InvalidEvent, decode
from tracklog.v1 import events_pb2 as pb

RUN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "envelope",
    [
        experiment_created("exp1", "my experiment", {"team": "ml"}),
        run_started(RUN, "exp1", "run one", {"mlflow.user": "alice"}),
        params_logged(RUN, {"lr": "0.1", "depth": "3"}),
        tags_set(RUN, {"phase": "train"}),
        metrics_logged(RUN, [("loss", 0, 1, 0.5), ("acc", 0, 1, float("nan"))]),
        metrics_logged(RUN, []),
        run_ended(RUN, pb.RUN_STATUS_KILLED),
    ],
    ids=lambda e: e.WhichOneof("payload"),
)
def test_valid_events_decode_unchanged(envelope: pb.Envelope) -> None:
    assert decode(envelope.SerializeToString()) == envelope


def _mutated(envelope: pb.Envelope, change: Callable[[pb.Envelope], object]) -> bytes:
    change(envelope)
    return envelope.SerializeToString()


def _long_value(e: pb.Envelope) -> None:
    e.params_logged.params[0].value = "x" * 6001


def _long_tag(e: pb.Envelope) -> None:
    e.tags_set.tags[0].value = "x" * 8001


BAD: dict[str, tuple[bytes | None, str]] = {
    "none": (None, "empty message"),
    "empty": (b"", "empty message"),
    "garbage": (b"\xff\xfe not a protobuf \x00\x01", "undecodable"),
    "no payload": (
        pb.Envelope(aggregate_id=RUN, aggregate_type=pb.AGGREGATE_TYPE_RUN).SerializeToString(),
        "no payload",
    ),
    "unknown payload field": (
        # field 99, length-delimited: an event type this worker does not know
        pb.Envelope(aggregate_id=RUN).SerializeToString() + b"\x9a\x06\x00",
        "no payload",
    ),
    "empty aggregate_id": (
        _mutated(tags_set(RUN, {"a": "b"}), lambda e: setattr(e, "aggregate_id", "")),
        "aggregate_id",
    ),
    "bad aggregate_id": (
        _mutated(tags_set(RUN, {"a": "b"}), lambda e: setattr(e, "aggregate_id", "a/b")),
        "aggregate_id",
    ),
    "wrong aggregate type": (
        _mutated(
            tags_set(RUN, {"a": "b"}),
            lambda e: setattr(e, "aggregate_type", pb.AGGREGATE_TYPE_EXPERIMENT),
        ),
        "aggregate_type",
    ),
    "ragged metric columns": (
        _mutated(
            metrics_logged(RUN, [("loss", 0, 1, 0.5)]), lambda e: e.metrics_logged.steps.append(1)
        ),
        "differ in length",
    ),
    "bad metric key": (
        metrics_logged(RUN, [("bad key!", 0, 1, 0.5)]).SerializeToString(),
        "metric key",
    ),
    "dot-dot metric key": (
        metrics_logged(RUN, [("a/../b", 0, 1, 0.5)]).SerializeToString(),
        "metric key",
    ),
    "empty param key": (params_logged(RUN, {"": "1"}).SerializeToString(), "param key"),
    "param value too long": (_mutated(params_logged(RUN, {"p": "1"}), _long_value), "param value"),
    "duplicate param keys": (
        _mutated(
            params_logged(RUN, {"p": "1"}), lambda e: e.params_logged.params.add(key="p", value="2")
        ),
        "duplicate",
    ),
    "tag value too long": (_mutated(tags_set(RUN, {"t": "1"}), _long_tag), "tag value"),
    "NUL in tag value": (tags_set(RUN, {"t": "a\x00b"}).SerializeToString(), "NUL"),
    "unspecified run status": (
        run_ended(RUN, pb.RUN_STATUS_UNSPECIFIED).SerializeToString(),
        "run status",
    ),
    "unknown run status": (
        _mutated(run_ended(RUN), lambda e: setattr(e.run_ended, "status", 42)),
        "run status",
    ),
    "empty experiment name": (
        experiment_created("exp1", "  ").SerializeToString(),
        "experiment name",
    ),
    "bad experiment id of run": (run_started(RUN, "exp 1").SerializeToString(), "experiment_id"),
    "run name too long": (run_started(RUN, "exp1", "n" * 251).SerializeToString(), "run name"),
    "timestamp out of range": (
        _mutated(run_ended(RUN), lambda e: setattr(e.run_ended.end_time, "seconds", 10**12)),
        "out of range",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_rejected_with_a_reason(case: str) -> None:
    value, reason = BAD[case]
    with pytest.raises(InvalidEvent) as caught:
        decode(value)
    assert reason in caught.value.reason


def test_an_event_over_the_size_limit_is_rejected_before_parsing() -> None:
    value = params_logged(RUN, {f"p{i}": "x" * 100 for i in range(20)}).SerializeToString()
    assert decode(value, max_bytes=len(value)).params_logged.params[0].key == "p0"
    with pytest.raises(InvalidEvent, match=f"event too large: {len(value):,} bytes, more than"):
        decode(value, max_bytes=len(value) - 1)
