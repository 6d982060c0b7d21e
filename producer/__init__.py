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
"""

from tracklog import _fork_safety  # noqa: F401  (first: before anything imports grpc)
from tracklog.artifact_store import FileInfo
from tracklog.batcher import BufferFullError
from tracklog.client import TracklogClient
from tracklog.client_entities import DatasetInput, Run, RunData
from tracklog.client_errors import TracklogError
from tracklog.client_search import ViewType
from tracklog.entities import Experiment, Metric, Param, RunInfo, RunTag, Unsent
from tracklog.fluent import (
    active_run,
    configure,
    end_run,
    flush,
    get_artifact_uri,
    get_session,
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
    search_runs,
    set_experiment,
    set_tag,
    set_tags,
    start_run,
)
from tracklog.fluent_tracking import (
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
from tracklog.registry_client import RegistryClient, register_model, resolve_model_uri
from tracklog.registry_entities import ModelVersion, RegisteredModel
from tracklog.run import ActiveRun
from tracklog.session import Session

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
