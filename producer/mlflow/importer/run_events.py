"""Pure builders: MLflow's experiments and runs -> Tracklog envelopes with stable ids.

No I/O and no clock. Each event is labelled by its place in the entity's history (see
`event_ids`); times are MLflow's own (creation, start, end, each point's timestamp).
Keys and values Tracklog's worker would refuse (tracklog.contract.validation) are left
out and returned as `Skipped`, so one odd tag cannot dead-letter a whole run's start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mlflow.entities import Experiment, Run

from tracklog.contract import validation
from tracklog.contract.envelopes import ProducerSession
from tracklog.events import lifecycle
from tracklog.events import payloads as events
from tracklog.mlflow.importer.event_ids import content_label, event_id
from tracklog.mlflow.importer.sql_histories import Point
from tracklog.v1 import events_pb2 as pb

PARENT_TAG = "mlflow.parentRunId"
# bytes a metric point costs in a MetricsLogged event besides its key (step, time, value)
POINT_BYTES = 32


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something of the source that was not imported, and why."""

    where: str
    reason: str


@dataclass(slots=True)
class Built:
    """Envelopes of one aggregate, in order, and what was left out."""

    aggregate_id: str
    envelopes: list[pb.Envelope]
    skipped: list[Skipped]
    points: int = 0


def _ns(ms: int | None, fallback_ms: int = 0) -> int:
    return (ms if ms is not None else fallback_ms) * 1_000_000


def wrap(
    producer: ProducerSession, aggregate_id: str, label: str, ns: int, payload: events.Payload
) -> pb.Envelope:
    return producer.envelope(
        event_id=event_id(aggregate_id, label),
        aggregate_id=aggregate_id,
        occurred_ns=ns,
        payload=payload,
    )


def _pairs(
    kind: str, where: str, pairs: Iterable[tuple[str, str]], skipped: list[Skipped]
) -> list[tuple[str, str]]:
    kept: list[tuple[str, str]] = []
    for key, value in sorted(pairs):
        try:
            validation.validate_key(kind, key)
            if kind == "param":
                validation.param_value(key, value)
            else:
                validation.tag_value(key, value)
            if "\x00" in key or "\x00" in value:
                raise ValueError("contains a NUL character")
        except ValueError as error:
            skipped.append(Skipped(f"{where} {kind} {key!r}", str(error)))
            continue
        kept.append((key, value))
    return kept


def experiment_tags(
    producer: ProducerSession, experiment_id: str, tags: list[tuple[str, str]], ns: int
) -> list[pb.Envelope]:
    """ExperimentTagSet events: an experiment Tracklog already held gets the source's tags."""
    return [
        wrap(
            producer,
            experiment_id,
            content_label(f"experiment_tag/{key}", value.encode()),
            ns,
            lifecycle.experiment_tag_set(key, value),
        )
        for key, value in tags
    ]


def experiment(
    producer: ProducerSession, source: Experiment, experiment_id: str, artifact_location: str
) -> Built:
    """ExperimentCreated (with its tags), then ExperimentDeleted for a deleted one."""
    skipped: list[Skipped] = []
    where = f"experiment {source.name!r}"
    tags = _pairs("tag", where, source.tags.items(), skipped)
    created_ms = source.creation_time or source.last_update_time or 0
    created = events.experiment_created(source.name, _ns(created_ms), artifact_location)
    created.tags.extend(pb.Tag(key=k, value=v) for k, v in tags)
    label = content_label("experiment_created", created.SerializeToString(deterministic=True))
    envelopes = [wrap(producer, experiment_id, label, _ns(created_ms), created)]
    if source.lifecycle_stage == "deleted":
        deleted_ns = _ns(source.last_update_time, created_ms)
        envelopes.append(
            wrap(
                producer,
                experiment_id,
                "experiment_deleted",
                deleted_ns,
                lifecycle.experiment_deleted(deleted_ns),
            )
        )
    return Built(experiment_id, envelopes, skipped)


class RunBuilder:
    """The envelopes of one run, in the order the worker should apply them."""

    def __init__(
        self,
        producer: ProducerSession,
        run: Run,
        experiment_id: str,
        artifact_uri: str,
        max_bytes: int,
    ) -> None:
        self.producer = producer
        self.run = run
        self.run_id = run.info.run_id
        self.experiment_id = experiment_id
        self.artifact_uri = artifact_uri
        self.max_bytes = max_bytes
        self.built = Built(self.run_id, [], [])
        self._where = f"run {self.run_id}"

    def _add(self, label: str, ns: int, payload: events.Payload, *, hashed: bool = True) -> None:
        if hashed:
            label = content_label(label, payload.SerializeToString(deterministic=True))
        self.built.envelopes.append(wrap(self.producer, self.run_id, label, ns, payload))

    def head(self) -> None:
        """RunStarted with every tag (split when large), the params, the dataset inputs."""
        info, data = self.run.info, self.run.data
        start_ns = _ns(info.start_time)
        tags = _pairs("tag", self._where, data.tags.items(), self.built.skipped)
        parent = data.tags.get(PARENT_TAG) or None
        if parent is not None:
            try:
                validation.validate_id("parent run id", parent)
            except ValueError as error:
                self.built.skipped.append(Skipped(f"{self._where} parent", str(error)))
                parent = None
        started = events.run_started(
            experiment_id=self.experiment_id,
            run_name=validation.run_name(info.run_name or "")[: validation.MAX_RUN_NAME_LENGTH],
            parent_run_id=parent,
            tags=tags,
            start_ns=start_ns,
            user_id=info.user_id or "",
            artifact_uri=self.artifact_uri,
        )
        for n, payload in enumerate(events.run_start_events(started, self.max_bytes)):
            self._add(f"run_started/{n}", start_ns, payload)
        params = _pairs("param", self._where, data.params.items(), self.built.skipped)
        for n, chunk in enumerate(events.params_events(params, self.max_bytes)):
            self._add(f"params/{n}", start_ns, chunk)
        self._datasets(start_ns)

    def links(self, links: list[tuple[str, events.Payload]]) -> None:
        """The run's logged-model outputs and inputs (`logged_models.run_links`)."""
        for label, payload in links:
            self._add(label, _ns(self.run.info.start_time), payload, hashed=False)

    def _datasets(self, ns: int) -> None:
        inputs = getattr(self.run, "inputs", None)
        for n, item in enumerate(getattr(inputs, "dataset_inputs", None) or []):
            dataset = item.dataset
            tags = [(t.key, t.value) for t in item.tags]
            context = next((v for k, v in tags if k == lifecycle.DATASET_CONTEXT_TAG), "")
            try:
                payload = lifecycle.dataset_input_logged(
                    name=dataset.name,
                    digest=dataset.digest,
                    source_type=dataset.source_type or "",
                    source=dataset.source or "",
                    schema=dataset.schema or "",
                    profile=dataset.profile or "",
                    context=context,
                    tags=[(k, v) for k, v in tags if k != lifecycle.DATASET_CONTEXT_TAG],
                )
            except ValueError as error:
                self.built.skipped.append(
                    Skipped(f"{self._where} dataset {dataset.name!r}", str(error))
                )
                continue
            self._add(f"dataset/{n}", ns, payload)

    def metric(self, key: str, history: Sequence[Point], start: int = 0) -> None:
        """MetricsLogged events with the points of ``history`` from index ``start`` on, in
        MLflow's order, cut at fixed sizes (a chunk's label is its key, start and length)."""
        try:
            validation.validate_key("metric", key)
        except ValueError as error:
            self.built.skipped.append(Skipped(f"{self._where} metric {key!r}", str(error)))
            return
        size = max(1, min(100_000, self.max_bytes // (len(key.encode()) + POINT_BYTES)))
        for first in range(start, len(history), size):
            chunk = history[first : first + size]
            steps, timestamps, values = zip(*chunk, strict=True)
            payload = events.metrics_logged([key] * len(chunk), steps, timestamps, values)
            ns = _ns(chunk[-1][1])
            self._add(f"metrics/{key}/{first}+{len(chunk)}", ns, payload, hashed=False)
            self.built.points += len(chunk)

    def artifact(self, path: str, size: int, digest: str) -> None:
        """ArtifactLogged for one file copied into Tracklog's store."""
        ns = _ns(self.run.info.end_time, self.run.info.start_time or 0)
        self._add(f"artifact/{path}", ns, events.artifact_logged(path, size, digest))

    def tail(self) -> None:
        """The run's status and end time; RunDeleted for a deleted run."""
        info = self.run.info
        end_ms = info.end_time
        last_ns = _ns(end_ms, info.start_time or 0)
        if info.status != "RUNNING":
            self._add("status", last_ns, lifecycle.run_status(info.status, end_ms))
        if info.lifecycle_stage == "deleted":
            self._add("run_deleted", last_ns, lifecycle.run_deleted(last_ns), hashed=False)
