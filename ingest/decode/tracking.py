"""Step 1 for experiment and run lifecycle events: the rules each payload must satisfy,
and (`check_locations`, ingest/steps/check_locations.py) that the artifact locations an
event names lie under the deployment's allowed roots.

Pure. The rules are the SDK's (tracklog.contract.validation); `decode.validate` checks the
aggregate type and turns `InvalidTrackingEvent` into `InvalidEvent`.
"""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.timestamp_pb2 import Timestamp

from tracklog.contract import validation
from tracklog.contract.locations import check_under_roots
from tracklog.v1 import events_pb2 as pb

# Python's datetime (used for timestamptz) spans years 1..9999.
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799
MAX_DATASET_FIELD_LENGTH = 64 * 1024  # schema and profile JSON; MLflow allows large ones too


class InvalidTrackingEvent(ValueError):
    """A lifecycle event that breaks a rule; the message says which."""


def checked(rule: Callable[..., object], *args: object) -> None:
    try:
        rule(*args)
    except ValueError as exc:
        raise InvalidTrackingEvent(str(exc)) from exc


def check_text(what: str, value: str, limit: int = MAX_DATASET_FIELD_LENGTH) -> None:
    if "\x00" in value:  # Postgres text cannot hold NUL characters
        raise InvalidTrackingEvent(f"{what} contains a NUL character")
    if len(value) > limit:
        raise InvalidTrackingEvent(f"{what} is {len(value)} characters; at most {limit}")


def check_timestamp(what: str, ts: Timestamp) -> None:
    if not _MIN_SECONDS <= ts.seconds <= _MAX_SECONDS or not 0 <= ts.nanos < 1_000_000_000:
        raise InvalidTrackingEvent(f"{what} is out of range (seconds={ts.seconds})")


def _experiment_renamed(envelope: pb.Envelope) -> None:
    name = envelope.experiment_renamed.new_name
    checked(validation.experiment_name, name)
    check_text("experiment name", name)


def _deleted(event: pb.ExperimentDeleted | pb.RunDeleted) -> None:
    if event.HasField("deleted_time"):
        check_timestamp("deleted_time", event.deleted_time)


def _tag_set(envelope: pb.Envelope) -> None:
    tag = envelope.experiment_tag_set.tag
    checked(validation.validate_key, "tag", tag.key)
    checked(validation.tag_value, tag.key, tag.value)
    check_text(f"value of tag {tag.key!r}", tag.value)


def _tag_key(key: str) -> None:
    checked(validation.validate_key, "tag", key)


def _run_renamed(envelope: pb.Envelope) -> None:
    name = envelope.run_renamed.new_name
    if not name:
        raise InvalidTrackingEvent("run name must not be empty")
    checked(validation.run_name, name)
    check_text("run name", name)


def _dataset_input(envelope: pb.Envelope) -> None:
    d = envelope.dataset_input_logged
    if not d.name or not d.digest:
        raise InvalidTrackingEvent("a dataset input needs a name and a digest")
    check_text("dataset name", d.name, validation.MAX_KEY_LENGTH)
    check_text("dataset digest", d.digest, 64)
    check_text("dataset context", d.context, validation.MAX_KEY_LENGTH)
    check_text("dataset source type", d.source_type, validation.MAX_KEY_LENGTH)
    for what, value in (("source", d.source), ("schema", d.schema), ("profile", d.profile)):
        check_text(f"dataset {what}", value)
    for tag in d.tags:
        if not tag.key:
            raise InvalidTrackingEvent("a dataset input's tag needs a key")
        check_text("dataset input tag key", tag.key, validation.MAX_KEY_LENGTH)
        check_text("dataset input tag value", tag.value)


EXPERIMENT_VALIDATORS: dict[str, Callable[[pb.Envelope], None]] = {
    "experiment_renamed": _experiment_renamed,
    "experiment_deleted": lambda e: _deleted(e.experiment_deleted),
    "experiment_restored": lambda e: None,
    "experiment_tag_set": _tag_set,
    "experiment_tag_deleted": lambda e: _tag_key(e.experiment_tag_deleted.key),
}
RUN_VALIDATORS: dict[str, Callable[[pb.Envelope], None]] = {
    "run_renamed": _run_renamed,
    "run_deleted": lambda e: _deleted(e.run_deleted),
    "run_restored": lambda e: None,
    "run_tag_deleted": lambda e: _tag_key(e.run_tag_deleted.key),
    "dataset_input_logged": _dataset_input,
}
VALIDATORS = {**EXPERIMENT_VALIDATORS, **RUN_VALIDATORS}


# Where each payload names a location its artifacts are read from and written to; a
# registry version's source may also be runs:/ or models:/ (resolved by MLflow's client).
_LOCATIONS: dict[str, tuple[str, Callable[[pb.Envelope], str]]] = {
    "experiment_created": ("artifact_location", lambda e: e.experiment_created.artifact_location),
    "run_started": ("artifact_uri", lambda e: e.run_started.artifact_uri),
    "logged_model_created": (
        "logged model artifact_location",
        lambda e: e.logged_model_created.artifact_location,
    ),
    "model_version_created": ("model version source", lambda e: e.model_version_created.source),
}
INDIRECT_SOURCES = ("runs:/", "models:/")


def check_locations(envelope: pb.Envelope, roots: tuple[str, ...]) -> None:
    """InvalidTrackingEvent when the envelope names a location outside ``roots`` (an empty
    location is the deployment's default, not checked). Pure but for resolving symlinks."""
    kind = envelope.WhichOneof("payload")
    if kind not in _LOCATIONS:
        return
    what, location_of = _LOCATIONS[kind]
    location = location_of(envelope)
    if not location or (kind == "model_version_created" and location.startswith(INDIRECT_SOURCES)):
        return
    checked(check_under_roots, what, location, roots)
