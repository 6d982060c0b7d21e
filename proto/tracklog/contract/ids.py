"""Identifiers the SDK mints: experiment ids derived from names, random run and event ids."""

from __future__ import annotations

import uuid

# Fixed namespace: every process derives the same experiment id from the same name,
# so two processes calling set_experiment("x") at once resolve to one experiment.
TRACKLOG_NAMESPACE = uuid.UUID("5b0f3c1e-7a4d-5c1b-9e2f-7472616b6c67")
DEFAULT_EXPERIMENT_NAME = "Default"
DEFAULT_EXPERIMENT_ID = "0"


def experiment_id_for(name: str) -> str:
    """The experiment id of a name: "0" for "Default", else uuid5(namespace, name) as hex."""
    if name == DEFAULT_EXPERIMENT_NAME:
        return DEFAULT_EXPERIMENT_ID
    return uuid.uuid5(TRACKLOG_NAMESPACE, name).hex


def new_run_id() -> str:
    return uuid.uuid4().hex


def new_model_id() -> str:
    """A logged model's id, shaped as MLflow's ("m-" and 32 hex digits)."""
    return f"m-{uuid.uuid4().hex}"


def new_event_id() -> str:
    return uuid.uuid4().hex
