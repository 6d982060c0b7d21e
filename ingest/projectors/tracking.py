"""Step 2a for experiment and run lifecycle events: an Envelope -> row operations. Pure.

`TagChange` (a tag set, or deleted when its value is None) joins the batch's merged
tags, where the last change of a key wins. The other operations (`TrackingOp`) are
applied one by one in log order after the batch's inserts (tracking_writer.py), so a
rename or a delete always finds the experiment or run created earlier in the log.
A status change of a run travels as RunEnded and is projected by projector_postgres.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from tracklog.ingest.projectors.logged_models import LOGGED_MODEL_OPS, LoggedModelOp
from tracklog.ingest.projectors.order import order_key
from tracklog.v1 import events_pb2 as pb

RUN_NAME_TAG = "mlflow.runName"
KINDS = frozenset(
    {
        "experiment_renamed",
        "experiment_deleted",
        "experiment_restored",
        "experiment_tag_set",
        "experiment_tag_deleted",
        "run_renamed",
        "run_deleted",
        "run_restored",
        "run_tag_deleted",
        "dataset_input_logged",
    }
)


@dataclass(frozen=True, slots=True)
class TagChange:
    """A tag set to ``value`` or, when ``value`` is None, deleted."""

    table: Literal["tags", "experiment_tags"]
    owner_id: str
    key: str
    value: str | None
    order: str = field(default="", compare=False, repr=False)  # order.py: the event's key


@dataclass(frozen=True, slots=True)
class ExperimentRename:
    experiment_id: str
    name: str
    at: datetime | None
    order: str = field(default="", compare=False, repr=False)  # order.py: the event's key


@dataclass(frozen=True, slots=True)
class LifecycleChange:
    """An experiment or a run moved to 'active' or 'deleted' (with its deleted time)."""

    table: Literal["experiments", "runs"]
    owner_id: str
    stage: Literal["active", "deleted"]
    deleted_time: datetime | None
    at: datetime | None
    order: str = field(default="", compare=False, repr=False)  # order.py: the event's key


@dataclass(frozen=True, slots=True)
class RunRename:
    run_id: str
    name: str
    order: str = field(default="", compare=False, repr=False)  # order.py: the event's key


@dataclass(frozen=True, slots=True)
class DatasetInputRow:
    run_id: str
    name: str
    digest: str
    context: str
    source_type: str
    source: str
    schema: str
    profile: str
    tags: tuple[tuple[str, str], ...] = ()  # the input's other tags, in order


# applied in log order by tracking_writer.apply, with the logged models' operations
TrackingOp = ExperimentRename | LifecycleChange | RunRename | DatasetInputRow | LoggedModelOp
TRACKING_OPS = (ExperimentRename, LifecycleChange, RunRename, DatasetInputRow, *LOGGED_MODEL_OPS)


def handles(envelope: pb.Envelope) -> bool:
    return envelope.WhichOneof("payload") in KINDS


def project(envelope: pb.Envelope) -> list[TagChange | TrackingOp]:
    """The operations one (already validated) lifecycle event causes."""
    kind = envelope.WhichOneof("payload")
    owner = envelope.aggregate_id
    at = _occurred(envelope)
    order = order_key(envelope)
    if kind == "experiment_renamed":
        return [ExperimentRename(owner, envelope.experiment_renamed.new_name, at, order)]
    if kind == "experiment_deleted":
        deleted = _time(envelope.experiment_deleted, at)
        return [LifecycleChange("experiments", owner, "deleted", deleted, at, order)]
    if kind == "experiment_restored":
        return [LifecycleChange("experiments", owner, "active", None, at, order)]
    if kind == "experiment_tag_set":
        tag = envelope.experiment_tag_set.tag
        return [TagChange("experiment_tags", owner, tag.key, tag.value, order)]
    if kind == "experiment_tag_deleted":
        key = envelope.experiment_tag_deleted.key
        return [TagChange("experiment_tags", owner, key, None, order)]
    if kind == "run_renamed":
        name = envelope.run_renamed.new_name
        return [RunRename(owner, name, order), TagChange("tags", owner, RUN_NAME_TAG, name, order)]
    if kind == "run_deleted":
        deleted = _time(envelope.run_deleted, at)
        return [LifecycleChange("runs", owner, "deleted", deleted, at, order)]
    if kind == "run_restored":
        return [LifecycleChange("runs", owner, "active", None, at, order)]
    if kind == "run_tag_deleted":
        return [TagChange("tags", owner, envelope.run_tag_deleted.key, None, order)]
    if kind == "dataset_input_logged":
        d = envelope.dataset_input_logged
        row = DatasetInputRow(
            owner,
            d.name,
            d.digest,
            d.context,
            d.source_type,
            d.source,
            d.schema,
            d.profile,
            tuple((t.key, t.value) for t in d.tags),
        )
        return [row]
    return []


def _occurred(envelope: pb.Envelope) -> datetime | None:
    if envelope.HasField("occurred_at"):
        return envelope.occurred_at.ToDatetime(tzinfo=UTC)
    return None


def _time(
    event: pb.ExperimentDeleted | pb.RunDeleted, fallback: datetime | None
) -> datetime | None:
    if event.HasField("deleted_time"):
        return event.deleted_time.ToDatetime(tzinfo=UTC)
    return fallback
