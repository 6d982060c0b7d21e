"""Tracklog: experiment tracking over Kafka. The fluent SDK lives here.

Memory and blocking policy of the SDK (quoted by the README):

    Logging calls never wait on the network. They validate their input (raising
    ValueError before anything is queued) and append to an in-memory buffer that a
    background thread sends to Kafka in columnar batches. The buffer holds at most
    ``max_buffered_points`` metric points (default 2,000,000) and
    ``max_buffered_events`` other events (default 100,000), counting everything not
    yet handed to the Kafka producer (whose own buffer is bounded by
    ``buffer_memory``, 32 MB by default). When a call does not fit, it waits for
    room up to ``max_block_seconds`` (default 60, like kafka-python's
    ``max_block_ms``) and then raises ``tracklog.BufferFullError`` naming what is
    pending; the call queued nothing. Nothing is ever dropped silently: events
    the broker finally rejects are logged as errors and make ``flush`` return
    False, and at exit the default session warns how many events and points it
    could not send.

Importing `tracklog` loads only this module: each name below is imported on first use
(PEP 562), so `tracklog.ingest`, `tracklog.query` and the contract load none of the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from tracklog import _fork_safety  # noqa: F401  (first: before anything imports grpc)

if TYPE_CHECKING:
    from tracklog.artifacts.store import FileInfo
    from tracklog.client.entities import DatasetInput, Run, RunData
    from tracklog.client.errors import TracklogError
    from tracklog.client.registry import RegistryClient, register_model, resolve_model_uri
    from tracklog.client.registry_entities import ModelVersion, RegisteredModel
    from tracklog.client.search import ViewType
    from tracklog.client.tracklog_client import TracklogClient
    from tracklog.entities import Experiment, Metric, Param, RunInfo, RunTag, Unsent
    from tracklog.fluent.runs import (
        active_run,
        end_run,
        flush,
        get_artifact_uri,
        log_artifact,
        log_artifacts,
        log_batch,
        log_dict,
        log_figure,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_text,
        set_experiment,
        set_tag,
        set_tags,
        start_run,
    )
    from tracklog.fluent.search import search_runs
    from tracklog.fluent.tracking import (
        create_experiment,
        delete_experiment,
        delete_run,
        delete_tag,
        get_client,
        get_experiment,
        get_experiment_by_name,
        get_run,
        last_active_run,
        log_input,
        search_experiments,
        set_experiment_tag,
        set_experiment_tags,
    )
    from tracklog.registry.errors import RegistryError
    from tracklog.run import ActiveRun
    from tracklog.sending.batcher import BufferFullError
    from tracklog.session import Session
    from tracklog.session.default import configure, get_session

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "ActiveRun": "tracklog.run",
    "BufferFullError": "tracklog.sending.batcher",
    "DatasetInput": "tracklog.client.entities",
    "Experiment": "tracklog.entities",
    "FileInfo": "tracklog.artifacts.store",
    "Metric": "tracklog.entities",
    "ModelVersion": "tracklog.client.registry_entities",
    "Param": "tracklog.entities",
    "RegisteredModel": "tracklog.client.registry_entities",
    "RegistryClient": "tracklog.client.registry",
    "RegistryError": "tracklog.registry.errors",
    "Run": "tracklog.client.entities",
    "RunData": "tracklog.client.entities",
    "RunInfo": "tracklog.entities",
    "RunTag": "tracklog.entities",
    "Session": "tracklog.session",
    "TracklogClient": "tracklog.client.tracklog_client",
    "TracklogError": "tracklog.client.errors",
    "Unsent": "tracklog.entities",
    "ViewType": "tracklog.client.search",
    "active_run": "tracklog.fluent.runs",
    "configure": "tracklog.session.default",
    "create_experiment": "tracklog.fluent.tracking",
    "delete_experiment": "tracklog.fluent.tracking",
    "delete_run": "tracklog.fluent.tracking",
    "delete_tag": "tracklog.fluent.tracking",
    "end_run": "tracklog.fluent.runs",
    "flush": "tracklog.fluent.runs",
    "get_artifact_uri": "tracklog.fluent.runs",
    "get_client": "tracklog.fluent.tracking",
    "get_experiment": "tracklog.fluent.tracking",
    "get_experiment_by_name": "tracklog.fluent.tracking",
    "get_run": "tracklog.fluent.tracking",
    "get_session": "tracklog.session.default",
    "last_active_run": "tracklog.fluent.tracking",
    "log_artifact": "tracklog.fluent.runs",
    "log_artifacts": "tracklog.fluent.runs",
    "log_batch": "tracklog.fluent.runs",
    "log_dict": "tracklog.fluent.runs",
    "log_figure": "tracklog.fluent.runs",
    "log_input": "tracklog.fluent.tracking",
    "log_metric": "tracklog.fluent.runs",
    "log_metrics": "tracklog.fluent.runs",
    "log_param": "tracklog.fluent.runs",
    "log_params": "tracklog.fluent.runs",
    "log_text": "tracklog.fluent.runs",
    "register_model": "tracklog.client.registry",
    "resolve_model_uri": "tracklog.client.registry",
    "search_experiments": "tracklog.fluent.tracking",
    "search_runs": "tracklog.fluent.search",
    "set_experiment": "tracklog.fluent.runs",
    "set_experiment_tag": "tracklog.fluent.tracking",
    "set_experiment_tags": "tracklog.fluent.tracking",
    "set_tag": "tracklog.fluent.runs",
    "set_tags": "tracklog.fluent.runs",
    "start_run": "tracklog.fluent.runs",
}

__all__ = [
    "ActiveRun",
    "BufferFullError",
    "DatasetInput",
    "Experiment",
    "FileInfo",
    "Metric",
    "ModelVersion",
    "Param",
    "RegisteredModel",
    "RegistryClient",
    "RegistryError",
    "Run",
    "RunData",
    "RunInfo",
    "RunTag",
    "Session",
    "TracklogClient",
    "TracklogError",
    "Unsent",
    "ViewType",
    "active_run",
    "configure",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush",
    "get_artifact_uri",
    "get_client",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_session",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_batch",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "register_model",
    "resolve_model_uri",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "start_run",
]


def __getattr__(name: str) -> object:
    """Import a public name on first use, then keep it as a plain module attribute."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tracklog' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
