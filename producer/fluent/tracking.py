"""Fluent functions beyond logging, as MLflow's: dataset inputs, tag deletes, experiment
tags, and reads through a default `TracklogClient` that shares the default session (so
a read right after a fluent write sees it)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from tracklog.client.entities import Run
from tracklog.client.registry_entities import PagedList
from tracklog.client.tracklog_client import TracklogClient
from tracklog.contract.ids import DEFAULT_EXPERIMENT_NAME
from tracklog.contract.settings import Settings
from tracklog.data import Dataset
from tracklog.entities import Experiment
from tracklog.events import lifecycle as events_tracking
from tracklog.session.default import existing_session, get_session

_lock = threading.Lock()
_clients: dict[str, TracklogClient] = {}  # query address -> client of the default session


def get_client(query_addr: str | None = None) -> TracklogClient:
    """A client of the default session (one per query address, kept for the process); it
    creates no session (nor Kafka producer) until something is written."""
    session = existing_session()
    key = query_addr or (session.query_addr if session else Settings.from_env().query_addr)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = TracklogClient(key or None)
        return client


def _run_id() -> str:
    session = get_session()
    run = session.active_run() or session.start_run()
    return run.run_id


def _experiment_id() -> str:
    session = get_session()
    run = session.active_run()
    if run is not None:
        return run.info.experiment_id
    experiment = session.current_experiment or session.set_experiment(DEFAULT_EXPERIMENT_NAME)
    return experiment.experiment_id


def log_input(dataset: Dataset, context: str | None = None) -> None:
    """Record that the active run used ``dataset`` (see `tracklog.data.from_pandas`)."""
    get_session().emit(_run_id(), [dataset.logged(context)])


def delete_tag(key: str) -> None:
    get_session().emit(_run_id(), [events_tracking.run_tag_deleted(key)])


def set_experiment_tag(key: str, value: Any) -> None:
    """Set a tag on the current experiment (the active run's, else the session's)."""
    get_session().emit(_experiment_id(), [events_tracking.experiment_tag_set(key, value)])


def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    payloads = [events_tracking.experiment_tag_set(k, v) for k, v in tags.items()]
    get_session().emit(_experiment_id(), list(payloads))


def get_run(run_id: str) -> Run:
    return get_client().get_run(run_id)


def last_active_run() -> Run | None:
    """The active run, else the run this process ended last (None before any), as read
    from the query service (MLflow's `last_active_run`)."""
    session = get_session()
    active = session.active_run()
    run_id = active.run_id if active is not None else session.last_ended_run_id
    return None if run_id is None else get_client().get_run(run_id)


def get_experiment(experiment_id: str) -> Experiment:
    return get_client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    """The experiment holding ``name``, or None (as MLflow)."""
    return get_client().get_experiment_by_name(name)


def delete_experiment(experiment_id: str) -> None:
    get_client().delete_experiment(experiment_id)


def delete_run(run_id: str) -> None:
    get_client().delete_run(run_id)


def create_experiment(
    name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
) -> str:
    return get_client().create_experiment(name, artifact_location, tags)


def search_experiments(
    view_type: int | str = "ACTIVE_ONLY",
    max_results: int = 1000,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> PagedList[Experiment]:
    return get_client().search_experiments(view_type, max_results, filter_string, order_by)
