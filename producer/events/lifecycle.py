"""Pure builders of the experiment and run lifecycle payloads (validated first).

Each raises ValueError (before anything is queued) when its input breaks the rules
the ingest worker checks (tracklog.contract.validation). A status change of a run is a
RunEnded (`run_status`), whose projection sets the status and, for a terminal
status, the end time.
"""

from __future__ import annotations

from collections.abc import Sequence

from tracklog.contract import validation
from tracklog.contract.envelopes import timestamp
from tracklog.v1 import events_pb2 as pb

RUN_STATUSES: dict[str, pb.RunStatus.ValueType] = {
    "RUNNING": pb.RUN_STATUS_RUNNING,
    "SCHEDULED": pb.RUN_STATUS_SCHEDULED,
    "FINISHED": pb.RUN_STATUS_FINISHED,
    "FAILED": pb.RUN_STATUS_FAILED,
    "KILLED": pb.RUN_STATUS_KILLED,
}
DATASET_CONTEXT_TAG = "mlflow.data.context"


def experiment_renamed(new_name: str) -> pb.ExperimentRenamed:
    return pb.ExperimentRenamed(new_name=validation.experiment_name(new_name))


def experiment_deleted(deleted_ns: int) -> pb.ExperimentDeleted:
    return pb.ExperimentDeleted(deleted_time=timestamp(deleted_ns))


def experiment_restored() -> pb.ExperimentRestored:
    return pb.ExperimentRestored()


def experiment_tag_set(key: str, value: object) -> pb.ExperimentTagSet:
    key = validation.validate_key("tag", key)
    return pb.ExperimentTagSet(tag=pb.Tag(key=key, value=validation.tag_value(key, value)))


def experiment_tag_deleted(key: str) -> pb.ExperimentTagDeleted:
    return pb.ExperimentTagDeleted(key=validation.validate_key("tag", key))


def run_renamed(new_name: str) -> pb.RunRenamed:
    if not isinstance(new_name, str) or not new_name:
        raise ValueError("run name must be a non-empty string")
    return pb.RunRenamed(new_name=validation.run_name(new_name))


def run_deleted(deleted_ns: int) -> pb.RunDeleted:
    return pb.RunDeleted(deleted_time=timestamp(deleted_ns))


def run_restored() -> pb.RunRestored:
    return pb.RunRestored()


def run_tag_deleted(key: str) -> pb.RunTagDeleted:
    return pb.RunTagDeleted(key=validation.validate_key("tag", key))


def run_status(status: str, end_ms: int | None) -> pb.RunEnded:
    """A status change: RunEnded with the end time for FINISHED/FAILED/KILLED."""
    if status not in RUN_STATUSES:
        raise ValueError(f"run status must be one of {sorted(RUN_STATUSES)}, got {status!r}")
    event = pb.RunEnded(status=RUN_STATUSES[status])
    if status not in ("RUNNING", "SCHEDULED") and end_ms is not None:
        event.end_time.CopyFrom(timestamp(validation.int64("end_time", end_ms) * 1_000_000))
    return event


def dataset_input_logged(
    *,
    name: str,
    digest: str,
    source_type: str,
    source: str,
    schema: str,
    profile: str,
    context: str,
    tags: Sequence[tuple[str, str]] = (),
) -> pb.DatasetInputLogged:
    """A run's dataset input; `tags` are its tags other than the context, in order."""
    if not name or not digest:
        raise ValueError("a dataset input needs a name and a digest")
    if len(name) > validation.MAX_KEY_LENGTH or len(digest) > 64:
        raise ValueError(
            f"dataset name is at most {validation.MAX_KEY_LENGTH} and digest 64 characters"
        )
    if any(not key for key, _ in tags):
        raise ValueError("a dataset input's tag needs a key")
    return pb.DatasetInputLogged(
        name=name,
        digest=digest,
        source_type=source_type,
        source=source,
        schema=schema,
        profile=profile,
        context=context,
        tags=[pb.Tag(key=k, value=v) for k, v in tags],
    )
