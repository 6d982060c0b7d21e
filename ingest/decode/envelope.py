"""Step 1: bytes -> a valid Envelope, or InvalidEvent naming why not.

Pure. The rules are the SDK's (tracklog.contract.validation); an event that breaks them
was not produced by a well-behaved SDK and goes to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from tracklog.contract import validation
from tracklog.contract.envelopes import AGGREGATE_TYPES
from tracklog.ingest.decode import artifacts as decode_artifacts
from tracklog.ingest.decode import logged_models as decode_logged_models
from tracklog.ingest.decode import registry as decode_registry
from tracklog.ingest.decode import tracking as decode_tracking
from tracklog.ingest.decode.metric_keys import key_names
from tracklog.v1 import events_pb2 as pb

# Python's datetime (used for timestamptz) spans years 1..9999.
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799


class InvalidEvent(ValueError):
    """An event that cannot be projected; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


TOO_LARGE = "event too large"


def decode(value: bytes | None, max_bytes: int | None = None) -> pb.Envelope:
    """Parse and validate one Kafka message value (of at most ``max_bytes``, if given)."""
    if not value:
        raise InvalidEvent("empty message")
    if max_bytes is not None and len(value) > max_bytes:
        raise InvalidEvent(
            f"{TOO_LARGE}: {len(value):,} bytes, more than TRACKLOG_MAX_EVENT_BYTES ({max_bytes:,})"
        )
    try:
        envelope = pb.Envelope.FromString(value)
    except DecodeError as exc:
        raise InvalidEvent(f"undecodable envelope: {exc}") from exc
    validate(envelope, value)
    return envelope


def validate(envelope: pb.Envelope, payload: bytes | None = None) -> None:
    """Raise InvalidEvent unless the envelope can be projected; ``payload``, the bytes it
    was parsed from, spares a string per metric point (ingest/decode/metric_keys.py)."""
    kind = envelope.WhichOneof("payload")
    if kind is None:
        raise InvalidEvent("envelope has no payload (empty or unknown event type)")
    expected = AGGREGATE_TYPES.get(kind)
    if expected is None or kind not in _VALIDATORS:  # pragma: no cover - a new payload
        raise InvalidEvent(f"unsupported payload {kind!r}")
    _check("event_id", validation.validate_id, "event_id", envelope.event_id)
    _check("aggregate_id", validation.validate_id, "aggregate_id", envelope.aggregate_id)
    if envelope.producer_session:  # older events have none
        _check("producer_session", validation.validate_id, "session", envelope.producer_session)
        if envelope.sequence < 1:
            raise InvalidEvent("an event of a producer session needs a sequence from 1")
    _text("actor", envelope.actor)
    if envelope.aggregate_type != expected:
        raise InvalidEvent(
            f"{kind} needs aggregate_type {pb.AggregateType.Name(expected)}, got "
            f"{_enum_name(pb.AggregateType.Name, envelope.aggregate_type)}"
        )
    if envelope.HasField("occurred_at"):
        _timestamp("occurred_at", envelope.occurred_at)
    try:
        if kind == "metrics_logged":
            _metrics_logged(envelope, payload)
        else:
            _VALIDATORS[kind](envelope)
    except (
        decode_registry.InvalidRegistryEvent,
        decode_tracking.InvalidTrackingEvent,
        decode_artifacts.InvalidArtifactEvent,
    ) as exc:
        raise InvalidEvent(f"invalid {kind}: {exc}") from exc


def _experiment_created(envelope: pb.Envelope) -> None:
    event = envelope.experiment_created
    _check("experiment name", validation.experiment_name, event.name)
    _text("artifact_location", event.artifact_location)
    _tags(event.tags)
    if event.HasField("creation_time"):
        _timestamp("creation_time", event.creation_time)
    elif not envelope.HasField("occurred_at"):
        raise InvalidEvent("experiment_created has neither creation_time nor occurred_at")


def _run_started(envelope: pb.Envelope) -> None:
    event = envelope.run_started
    _check("experiment_id", validation.validate_id, "experiment_id", event.experiment_id)
    _check("run name", validation.run_name, event.run_name)
    _text("run name", event.run_name)
    if event.parent_run_id:
        _check("parent_run_id", validation.validate_id, "parent_run_id", event.parent_run_id)
    _text("user_id", event.user_id)
    _tags(event.tags)
    if event.HasField("start_time"):
        _timestamp("start_time", event.start_time)


def _params_logged(envelope: pb.Envelope) -> None:
    params = envelope.params_logged.params
    for param in params:
        _check("param key", validation.validate_key, "param", param.key)
        _check("param value", validation.param_value, param.key, param.value)
        _text(f"value of param {param.key!r}", param.value)
    _check("params", validation.no_duplicate_keys, "param", (p.key for p in params))


def _metrics_logged(envelope: pb.Envelope, payload: bytes | None = None) -> None:
    event = envelope.metrics_logged
    lengths = {len(event.keys), len(event.steps), len(event.timestamps_ms), len(event.values)}
    if len(lengths) != 1:
        raise InvalidEvent(
            "metrics_logged columns differ in length: "
            f"keys={len(event.keys)} steps={len(event.steps)} "
            f"timestamps_ms={len(event.timestamps_ms)} values={len(event.values)}"
        )
    for key in key_names(event.keys, payload):  # a batch repeats a few keys many times
        _check("metric key", validation.validate_key, "metric", key)


def _tags_set(envelope: pb.Envelope) -> None:
    _tags(envelope.tags_set.tags)


def _run_ended(envelope: pb.Envelope) -> None:
    event = envelope.run_ended
    if event.status == pb.RUN_STATUS_UNSPECIFIED or event.status not in pb.RunStatus.values():
        raise InvalidEvent(f"invalid run status {_enum_name(pb.RunStatus.Name, event.status)}")
    if event.HasField("end_time"):
        _timestamp("end_time", event.end_time)


_VALIDATORS = {
    "experiment_created": _experiment_created,
    "run_started": _run_started,
    "params_logged": _params_logged,
    "metrics_logged": _metrics_logged,
    "tags_set": _tags_set,
    "run_ended": _run_ended,
    **decode_registry.VALIDATORS,
    **decode_tracking.VALIDATORS,
    **decode_artifacts.VALIDATORS,
    **decode_logged_models.VALIDATORS,
}


def _tags(tags: Iterable[pb.Tag]) -> None:
    tags = list(tags)
    for tag in tags:
        _check("tag key", validation.validate_key, "tag", tag.key)
        _check("tag value", validation.tag_value, tag.key, tag.value)
        _text(f"value of tag {tag.key!r}", tag.value)
    _check("tags", validation.no_duplicate_keys, "tag", (t.key for t in tags))


def _check(what: str, rule: Callable[..., object], *args: object) -> None:
    """Run one tracklog.contract.validation rule, turning its ValueError into InvalidEvent."""
    try:
        rule(*args)
    except ValueError as exc:
        raise InvalidEvent(f"invalid {what}: {exc}") from exc


def _text(what: str, value: str) -> None:
    # Postgres text cannot hold NUL characters.
    if "\x00" in value:
        raise InvalidEvent(f"{what} contains a NUL character")


def _timestamp(what: str, ts: Timestamp) -> None:
    if not _MIN_SECONDS <= ts.seconds <= _MAX_SECONDS or not 0 <= ts.nanos < 1_000_000_000:
        raise InvalidEvent(f"{what} is out of range (seconds={ts.seconds}, nanos={ts.nanos})")


def _enum_name(name: Callable[[Any], str], number: int) -> str:
    try:
        return name(number)
    except ValueError:
        return str(number)
