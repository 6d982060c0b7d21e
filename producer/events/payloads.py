"""Pure builders of the SDK's event payloads: no clock, no I/O, no randomness.

Callers pass times as Unix epoch nanoseconds (or milliseconds where the contract
keeps milliseconds) and ids they minted. The sender wraps each payload in an envelope
(tracklog.contract.envelopes), numbering it in its producer session.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeAlias

from tracklog.contract.envelopes import timestamp
from tracklog.contract.validation import MAX_PARAMS_PER_BATCH as MAX_PARAMS
from tracklog.contract.validation import MAX_TAGS_PER_BATCH as MAX_TAGS
from tracklog.v1 import events_pb2 as pb

Payload: TypeAlias = (
    pb.ExperimentCreated
    | pb.RunStarted
    | pb.ParamsLogged
    | pb.MetricsLogged
    | pb.TagsSet
    | pb.RunEnded
    | pb.ArtifactLogged
    | pb.ExperimentRenamed
    | pb.ExperimentDeleted
    | pb.ExperimentRestored
    | pb.ExperimentTagSet
    | pb.ExperimentTagDeleted
    | pb.RunRenamed
    | pb.RunDeleted
    | pb.RunRestored
    | pb.RunTagDeleted
    | pb.DatasetInputLogged
    | pb.LoggedModelCreated
    | pb.LoggedModelFinalized
    | pb.LoggedModelTagSet
    | pb.LoggedModelTagDeleted
    | pb.LoggedModelDeleted
    | pb.LoggedModelOutput
    | pb.LoggedModelInput
    | pb.LoggedModelParamsLogged
    | pb.LoggedModelMetricsLogged
)

RUN_END_STATUSES: dict[str, pb.RunStatus.ValueType] = {
    "FINISHED": pb.RUN_STATUS_FINISHED,
    "FAILED": pb.RUN_STATUS_FAILED,
    "KILLED": pb.RUN_STATUS_KILLED,
}


def _tags(pairs: Iterable[tuple[str, str]]) -> list[pb.Tag]:
    return [pb.Tag(key=k, value=v) for k, v in pairs]


def experiment_created(
    name: str, creation_ns: int, artifact_location: str = ""
) -> pb.ExperimentCreated:
    return pb.ExperimentCreated(
        name=name, artifact_location=artifact_location, creation_time=timestamp(creation_ns)
    )


def run_started(
    *,
    experiment_id: str,
    run_name: str,
    parent_run_id: str | None,
    tags: Iterable[tuple[str, str]],
    start_ns: int,
    user_id: str,
    artifact_uri: str = "",
) -> pb.RunStarted:
    return pb.RunStarted(
        experiment_id=experiment_id,
        run_name=run_name,
        parent_run_id=parent_run_id or "",
        tags=_tags(tags),
        start_time=timestamp(start_ns),
        user_id=user_id,
        artifact_uri=artifact_uri,
    )


def params_logged(pairs: Iterable[tuple[str, str]]) -> pb.ParamsLogged:
    return pb.ParamsLogged(params=[pb.Param(key=k, value=v) for k, v in pairs])


# Bytes a key/value pair costs in a message besides its UTF-8 text (tags and lengths).
PAIR_OVERHEAD_BYTES = 8


def pair_chunks(
    pairs: Sequence[tuple[str, str]], max_count: int, max_bytes: int
) -> list[list[tuple[str, str]]]:
    """``pairs`` in order, cut into runs of at most ``max_count`` pairs and about
    ``max_bytes`` encoded bytes each (MLflow's per-request limits, and the largest event
    the producer sends); one pair is never cut. No pairs, no chunks."""
    chunks: list[list[tuple[str, str]]] = []
    chunk: list[tuple[str, str]] = []
    size = 0
    for key, value in pairs:
        cost = len(key.encode()) + len(value.encode()) + PAIR_OVERHEAD_BYTES
        if chunk and (len(chunk) >= max_count or size + cost > max_bytes):
            chunks.append(chunk)
            chunk, size = [], 0
        chunk.append((key, value))
        size += cost
    if chunk:
        chunks.append(chunk)
    return chunks


def params_events(pairs: Sequence[tuple[str, str]], max_bytes: int) -> list[pb.ParamsLogged]:
    """ParamsLogged events of at most 100 params (MLflow's log_batch limit) and about
    ``max_bytes`` each."""
    chunks = pair_chunks(pairs, MAX_PARAMS, max_bytes)
    return [params_logged(chunk) for chunk in chunks]


def tags_events(pairs: Sequence[tuple[str, str]], max_bytes: int) -> list[pb.TagsSet]:
    """TagsSet events of at most 100 tags and about ``max_bytes`` each."""
    return [tags_set(chunk) for chunk in pair_chunks(pairs, MAX_TAGS, max_bytes)]


def run_start_events(started: pb.RunStarted, max_bytes: int) -> list[Payload]:
    """``started`` keeping only the first tags that fit, then TagsSet events with the rest."""
    chunks = pair_chunks([(t.key, t.value) for t in started.tags], MAX_TAGS, max_bytes)
    if len(chunks) <= 1:
        return [started]
    first = pb.RunStarted()
    first.CopyFrom(started)
    del first.tags[:]
    first.tags.extend(_tags(chunks[0]))
    return [first, *(tags_set(chunk) for chunk in chunks[1:])]


def artifact_logged(path: str, size: int, digest: str) -> pb.ArtifactLogged:
    return pb.ArtifactLogged(path=path, size=size, digest=digest)


def tags_set(pairs: Iterable[tuple[str, str]]) -> pb.TagsSet:
    return pb.TagsSet(tags=_tags(pairs))


def run_ended(status: str, end_ns: int) -> pb.RunEnded:
    if status not in RUN_END_STATUSES:
        raise ValueError(
            f"run end status must be one of {sorted(RUN_END_STATUSES)}, got {status!r}"
        )
    return pb.RunEnded(status=RUN_END_STATUSES[status], end_time=timestamp(end_ns))


def metrics_logged(
    keys: Sequence[str], steps: Sequence[int], timestamps_ms: Sequence[int], values: Sequence[float]
) -> pb.MetricsLogged:
    if not len(keys) == len(steps) == len(timestamps_ms) == len(values):
        raise ValueError("metric columns must have the same length")
    return pb.MetricsLogged(keys=keys, steps=steps, timestamps_ms=timestamps_ms, values=values)
