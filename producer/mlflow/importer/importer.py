"""The whole import: experiments, runs (with their histories and artifacts), the registry.

`import_mlflow(options, progress)` reads the source, produces the events, waits until
the broker acknowledged each run's events (then records the run in the checkpoint) and,
at the end, until the worker applied everything; it returns a `Summary`. With
``dry_run`` it reads and counts only.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mlflow.entities import Experiment, LoggedModel, Run

from tracklog.contract.channels import open_channel
from tracklog.contract.envelopes import ProducerSession
from tracklog.contract.settings import KafkaSettings
from tracklog.deployment import Deployment
from tracklog.mlflow.importer import artifacts as run_artifacts
from tracklog.mlflow.importer import logged_models, run_events, targets
from tracklog.mlflow.importer.checkpoint import Checkpoint, RunMark, fingerprint
from tracklog.mlflow.importer.source import MlflowSource
from tracklog.mlflow.importer.writer import EventsLost, EventWriter, wait_projected
from tracklog.v1 import query_pb2_grpc

# The checkpoint records runs once their events are acknowledged, every so many runs or
# points (waiting for acknowledgements after each run would drain the producer each time).
RECORD_EVERY_RUNS = 20
RECORD_EVERY_POINTS = 1_000_000


@dataclass(frozen=True, slots=True)
class ImportOptions:
    source: str
    kafka: KafkaSettings
    query_addr: str
    experiments: tuple[str, ...] = ()
    registry: bool = True
    dry_run: bool = False
    keep_artifact_uris: bool = False
    artifacts: bool = True
    state_dir: Path | None = None  # None: no checkpoint (every run is sent)
    fallback_artifact_root: str = "./tracklog-artifacts"
    projection_timeout: float = 1800.0


@dataclass(frozen=True, slots=True)
class Totals:
    experiments: int
    runs: int


class Progress(Protocol):
    def start(self, totals: Totals) -> None: ...

    def advance(
        self, *, experiments: int = 0, runs: int = 0, points: int = 0, artifacts: int = 0
    ) -> None: ...

    def stage(self, what: str) -> None: ...

    def finish(self) -> None: ...


class QuietProgress:
    def start(self, totals: Totals) -> None:
        pass

    def advance(
        self, *, experiments: int = 0, runs: int = 0, points: int = 0, artifacts: int = 0
    ) -> None:
        pass

    def stage(self, what: str) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass(slots=True)
class Summary:
    experiments: int = 0
    runs: int = 0
    runs_unchanged: int = 0  # recorded by an earlier import and unchanged since: skipped
    params: int = 0
    tags: int = 0
    metrics: int = 0  # metric keys
    points: int = 0
    artifacts: int = 0
    artifact_bytes: int = 0
    logged_models: int = 0
    models: int = 0
    versions: int = 0
    events: int = 0
    seconds: float = 0.0
    experiment_ids: dict[str, str] = field(default_factory=dict)  # MLflow id -> Tracklog id
    skipped: list[run_events.Skipped] = field(default_factory=list)
    projected: bool = True

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds > 0 else 0.0


def import_mlflow(options: ImportOptions, progress: Progress | None = None) -> Summary:
    progress = progress or QuietProgress()
    started = time.monotonic()
    source = MlflowSource(options.source)
    experiments = source.experiments(options.experiments)
    runs = {e.experiment_id: list(source.runs(e.experiment_id)) for e in experiments}
    progress.start(Totals(len(experiments), sum(map(len, runs.values()))))
    summary = Summary()
    try:
        if options.dry_run:
            _count(source, experiments, runs, summary, progress, options)
        else:
            _Run(options, source, summary, progress).all(experiments, runs)
    finally:
        progress.finish()
    summary.seconds = time.monotonic() - started
    return summary


def _count(
    source: MlflowSource,
    experiments: list[Experiment],
    runs: dict[str, list[Run]],
    summary: Summary,
    progress: Progress,
    options: ImportOptions,
) -> None:
    for experiment in experiments:
        summary.experiments += 1
        summary.experiment_ids[experiment.experiment_id] = experiment.experiment_id
        progress.advance(experiments=1)
        for run in runs[experiment.experiment_id]:
            summary.runs += 1
            summary.params += len(run.data.params)
            summary.tags += len(run.data.tags)
            summary.metrics += len(run.data.metrics)
            found = source.histories(run.info.run_id, run.data.metrics)
            points = sum(map(len, found.values()))
            summary.points += points
            files = run_artifacts.listing(source.client, run.info.run_id)
            summary.artifacts += len(files)
            summary.artifact_bytes += sum(f.size for f in files)
            progress.advance(runs=1, points=points, artifacts=len(files))
        for model in logged_models.search(source.client, experiment.experiment_id):
            summary.logged_models += 1
            if model.artifact_location:
                location = run_artifacts.LocationFiles(source.client, model.artifact_location)
                listed = location.listing()
                summary.artifacts += len(listed)
                summary.artifact_bytes += sum(f.size for f in listed)
    if options.registry:
        from tracklog.mlflow.importer import registry

        with source.registry_reads():
            summary.models, summary.versions = registry.count(source.client)


class _Run:
    """One import in progress (the writer, the checkpoint, the summary)."""

    def __init__(
        self, options: ImportOptions, source: MlflowSource, summary: Summary, progress: Progress
    ) -> None:
        self.options = options
        self.source = source
        self.summary = summary
        self.progress = progress
        self.max_bytes = int(options.kafka.max_event_bytes * 0.8)
        destination = f"{options.kafka.bootstrap_servers}/{options.kafka.events_topic}"
        self.checkpoint = Checkpoint.load(options.state_dir, source.uri, destination)
        self.producer = ProducerSession()
        self._unrecorded: list[tuple[str, RunMark]] = []  # sent, not yet known acknowledged
        self._unrecorded_points = 0

    def _record_acked(self, timeout: float = 300.0) -> None:
        """Wait until the broker acknowledged every event sent, then record the runs sent
        so far in the checkpoint (a run is recorded only once all its events are safe)."""
        self.writer.wait_acked(timeout)
        for run_id, mark in self._unrecorded:
            self.checkpoint.record(run_id, mark)
        self._unrecorded, self._unrecorded_points = [], 0
        self.checkpoint.save()

    def all(self, experiments: list[Experiment], runs: dict[str, list[Run]]) -> None:
        deployment = Deployment(self.options.query_addr, self.options.fallback_artifact_root)
        root = deployment.artifact_root()
        deployment.close()
        channel = open_channel(self.options.query_addr)  # TLS and token from the settings
        stub = query_pb2_grpc.QueryServiceStub(channel)
        writer = EventWriter(self.options.kafka)
        self.writer = writer
        try:
            for experiment in experiments:
                self.progress.stage(f"experiment {experiment.name}")
                where = targets.target(stub, experiment, root, self.options.keep_artifact_uris)
                self.summary.experiment_ids[experiment.experiment_id] = where.experiment_id
                self._experiment(experiment, where)
                for run in runs[experiment.experiment_id]:
                    self._run(run, where)
                self._logged_models(experiment.experiment_id, where)
            self._record_acked()
            if self.options.registry:
                from tracklog.mlflow.importer import registry

                self.progress.stage("model registry")
                token = writer.flush_token()  # versions name runs: let the worker catch up
                wait_projected(stub, token, self.options.projection_timeout)
                with self.source.registry_reads():
                    counts = registry.import_registry(
                        self.source.client, self.options.query_addr, self.summary.skipped
                    )
                self.summary.models, self.summary.versions = counts
            self.progress.stage("waiting for the worker")
            self.summary.projected = wait_projected(
                stub, writer.flush_token(), self.options.projection_timeout
            )
        finally:
            with contextlib.suppress(EventsLost):  # interrupted: keep what is safe
                self._record_acked(timeout=30.0)
            writer.close()
            channel.close()
        self.summary.events = writer.sent

    def _experiment(self, experiment: Experiment, where: targets.Target) -> None:
        built = run_events.experiment(
            self.producer, experiment, where.experiment_id, where.artifact_location
        )
        if where.exists and not where.kept_id:  # someone else's experiment: add the tags only
            created = built.envelopes[0]
            tags = [(t.key, t.value) for t in created.experiment_created.tags]
            ns = created.occurred_at.ToNanoseconds()
            built.envelopes = run_events.experiment_tags(
                self.producer, where.experiment_id, tags, ns
            )
        self.writer.send(built.envelopes)
        self.summary.skipped.extend(built.skipped)
        self.summary.experiments += 1
        self.progress.advance(experiments=1)

    def _logged_models(self, source_id: str, where: targets.Target) -> None:
        for model in logged_models.search(self.source.client, source_id):
            location = self._logged_model_files(model, where)
            built = logged_models.logged_model(self.producer, model, where.experiment_id, location)
            self.writer.send(built.envelopes)
            self.summary.skipped.extend(built.skipped)
            self.summary.logged_models += 1

    def _logged_model_files(self, model: LoggedModel, where: targets.Target) -> str:
        """The model's artifact location in Tracklog, its files copied there (as a run's:
        kept in place with --keep-artifact-uris when Tracklog can read them). Files
        already there from an earlier import, the same sizes, are not copied again."""
        source = model.artifact_location or ""
        if not self.options.artifacts:
            return source
        files = run_artifacts.LocationFiles(self.source.client, source) if source else None
        listed = files.listing() if files is not None else []
        if self.options.keep_artifact_uris and (not listed or targets.readable(source)):
            return source
        if self.options.keep_artifact_uris:
            note = f"{source} is not readable by Tracklog; its files were copied"
            self.summary.skipped.append(
                run_events.Skipped(f"logged model {model.model_id} artifact location", note)
            )
        location = where.logged_model_location(model.model_id)
        if files is None or not listed or run_artifacts.held(location) == listed:
            return location
        stored = files.copy_to(location)
        self.summary.artifacts += len(stored)
        self.summary.artifact_bytes += sum(f.size for f in stored)
        self.progress.advance(artifacts=len(stored))
        return location

    def _run(self, run: Run, where: targets.Target) -> None:
        run_id = run.info.run_id
        files = run_artifacts.listing(self.source.client, run_id) if self.options.artifacts else []
        digest = fingerprint(run, ",".join(f"{f.path}:{f.size}" for f in files))
        if self.checkpoint.done(run_id, digest):
            self.summary.runs_unchanged += 1
            self.progress.advance(runs=1)
            return
        keep = self.options.keep_artifact_uris or not self.options.artifacts
        if keep and files and not targets.readable(run.info.artifact_uri):
            keep = False  # Tracklog cannot read the source's URI (e.g. mlflow-artifacts:)
            note = f"{run.info.artifact_uri} is not readable by Tracklog; its files were copied"
            self.summary.skipped.append(run_events.Skipped(f"run {run_id} artifact URI", note))
        artifact_uri = run.info.artifact_uri if keep else where.run_artifact_uri(run_id)
        builder = run_events.RunBuilder(
            self.producer, run, where.experiment_id, artifact_uri, self.max_bytes
        )
        builder.head()
        builder.links(logged_models.run_links(run))
        self.writer.send(builder.built.envelopes)
        sent_envelopes = len(builder.built.envelopes)
        mark = RunMark(digest)
        histories = self.source.histories(run_id, sorted(run.data.metrics))
        for key, history in histories.items():
            start = self.checkpoint.sent_points(run_id, key)
            start = start if start <= len(history) else 0
            before = builder.built.points
            builder.metric(key, history, start)
            self.writer.send(builder.built.envelopes[sent_envelopes:])
            sent_envelopes = len(builder.built.envelopes)
            mark.points[key] = len(history)
            self.progress.advance(points=builder.built.points - before)
        if files and not keep:
            stored = run_artifacts.copy_run(self.source.client, run_id, artifact_uri)
            for f in stored:
                builder.artifact(f.path, f.size, f.digest)
            self.summary.artifacts += len(stored)
            self.summary.artifact_bytes += sum(f.size for f in stored)
            self.progress.advance(artifacts=len(stored))
        builder.tail()
        self.writer.send(builder.built.envelopes[sent_envelopes:])
        self._unrecorded.append((run_id, mark))
        self._unrecorded_points += builder.built.points
        if (
            len(self._unrecorded) >= RECORD_EVERY_RUNS
            or self._unrecorded_points >= RECORD_EVERY_POINTS
        ):
            self._record_acked()
        s = self.summary
        s.runs += 1
        s.params += len(run.data.params)
        s.tags += len(run.data.tags)
        s.metrics += len(run.data.metrics)
        s.points += builder.built.points
        s.skipped.extend(builder.built.skipped)
        self.progress.advance(runs=1)
