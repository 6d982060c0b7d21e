"""`Experiments`: the experiment part of a `Session`. It knows the experiment
`set_experiment` chose (the one later runs go to) and queues an ``ExperimentCreated``
at most once per experiment and session, asking the query service (`tracklog.deployment`)
whether a name is taken already.
"""

from __future__ import annotations

import threading
import time

from tracklog.artifacts.logger import ArtifactLogger
from tracklog.contract import validation
from tracklog.contract.ids import DEFAULT_EXPERIMENT_NAME
from tracklog.deployment import LOOKUP_TIMEOUT_SECONDS, Deployment
from tracklog.entities import Experiment
from tracklog.events import payloads as events
from tracklog.sending.batcher import PendingEvent
from tracklog.session.delivery import Delivery


class Experiments:
    """The session's current experiment, and the experiments it made sure exist."""

    def __init__(
        self,
        delivery: Delivery,
        deployment: Deployment,
        artifacts: ArtifactLogger,
        query_addr: str,
    ) -> None:
        self._delivery = delivery
        self._deployment = deployment
        self._artifacts = artifacts
        self._query_addr = query_addr  # '' = never ask the query service
        self._lock = threading.Lock()
        self._created: set[str] = set()  # experiment ids whose ExperimentCreated was queued
        self._current: Experiment | None = None

    @property
    def current(self) -> Experiment | None:
        """The experiment `choose` chose last (None before any)."""
        return self._current

    def choose(self, name: str, artifact_location: str | None = None) -> Experiment:
        """Make ``name`` the experiment of later runs (created once per session). An
        existing experiment keeps its recorded artifact location (``artifact_location`` is
        used only to create one, as in MLflow)."""
        name = validation.experiment_name(name)
        self._see_own_writes()
        found = self._deployment.resolve(name)  # raises if it is deleted
        experiment = Experiment(found.experiment_id, name)
        if found.exists:
            with self._lock:
                self._created.add(found.experiment_id)
            recorded = found.artifact_location or None
            self._artifacts.experiment_location(experiment.experiment_id, recorded, recorded=True)
        else:
            self._artifacts.experiment_location(experiment.experiment_id, artifact_location)
        self.ensure(experiment)
        self._current = experiment
        return experiment

    def current_or_default(self) -> Experiment:
        """The current experiment, else the default one (chosen then)."""
        return self._current or self.choose(DEFAULT_EXPERIMENT_NAME)

    def _see_own_writes(self) -> None:
        """Before asking the query service: let it project what this session wrote (best
        effort, for at most the lookup timeout; a lookup then sees e.g. a created
        experiment)."""
        if self._query_addr and not self._delivery.closed:
            token = self._delivery.flush(LOOKUP_TIMEOUT_SECONDS)
            if token:
                self._deployment.wait_for(str(token))

    def ensure(self, experiment: Experiment) -> None:
        """Queue ``experiment``'s ExperimentCreated unless this session did already."""
        with self._lock:
            if experiment.experiment_id in self._created:
                return
            self._created.add(experiment.experiment_id)
        now = time.time_ns()
        event = PendingEvent(
            experiment.experiment_id,
            events.experiment_created(
                experiment.name, now, self._artifacts.experiment_location(experiment.experiment_id)
            ),
            now,
        )
        try:
            self._delivery.batcher.put(experiment.experiment_id, [event])
        except BaseException:
            with self._lock:
                self._created.discard(experiment.experiment_id)
            raise
