"""MLflow's fluent functions, delegating to a lazily created default `Session`.

The default session reads its Kafka settings from the environment
(``TRACKLOG_KAFKA_BOOTSTRAP``, ``TRACKLOG_EVENTS_TOPIC``, ...) unless `configure`
replaces it. At interpreter exit it ends the runs still active (FAILED if an
uncaught exception ended the program, else FINISHED), flushes for up to
``TRACKLOG_EXIT_FLUSH_SECONDS`` (default 30) and warns about anything unsent.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from tracklog.contract.flush_tokens import FlushToken
from tracklog.contract.settings import KafkaSettings
from tracklog.entities import Experiment, Metric, Param, RunTag, Unsent
from tracklog.run import ActiveRun
from tracklog.session import Session

_lock = threading.Lock()
_default: Session | None = None
_atexit_registered = False


def _install(session: Session) -> Session:
    global _default, _atexit_registered
    _default = session
    if not _atexit_registered:
        atexit.register(_at_exit)
        _atexit_registered = True
    return session


def get_session() -> Session:
    """The default session, created on first use."""
    with _lock:
        return _default if _default is not None else _install(Session())


def existing_session() -> Session | None:
    """The default session if one was created (reads use it to see this process's writes
    without creating a session, and its Kafka producer, when nothing was written)."""
    with _lock:
        return _default


def configure(kafka: KafkaSettings | None = None, **sender_options: Any) -> Session:
    """Replace the default session; the old one is flushed and closed first.

    ``sender_options`` are `Session`'s keyword options (``max_buffered_points``,
    ``max_block_seconds``, ``compression_type``, ...).
    """
    global _default
    with _lock:
        old, _default = _default, None
    if old is not None:
        _warn_unsent(old.close())
    session = Session(kafka, **sender_options)
    with _lock:
        return _install(session)


def _warn_unsent(unsent: Unsent) -> None:
    if unsent.events or unsent.points:
        warnings.warn(
            f"tracklog: {unsent.events} events and {unsent.points} metric points could not be "
            "sent to Kafka nor kept in the disk spool before the session closed: they are lost",
            RuntimeWarning,
            stacklevel=3,
        )


def _at_exit() -> None:
    with _lock:
        session = _default
    if session is None:
        return
    crashed = getattr(sys, "last_value", None) is not None
    session.end_active_runs("FAILED" if crashed else "FINISHED")
    _warn_unsent(session.close(float(os.environ.get("TRACKLOG_EXIT_FLUSH_SECONDS", "30"))))


def set_experiment(name: str, artifact_location: str | None = None) -> Experiment:
    return get_session().set_experiment(name, artifact_location)


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, object] | None = None,
    log_system_metrics: bool = False,
) -> ActiveRun:
    return get_session().start_run(
        run_id, experiment_id, run_name, nested, tags, log_system_metrics
    )


def active_run() -> ActiveRun | None:
    return get_session().active_run()


def end_run(status: str = "FINISHED") -> None:
    get_session().end_run(status)


def log_batch(
    run_id: str,
    metrics: Sequence[Metric] = (),
    params: Sequence[Param] = (),
    tags: Sequence[RunTag] = (),
) -> None:
    get_session().log_batch(run_id, metrics, params, tags)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    get_session().log_metric(key, value, step, timestamp)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    get_session().log_metrics(metrics, step, timestamp)


def log_param(key: str, value: object) -> None:
    get_session().log_param(key, value)


def log_params(params: Mapping[str, object]) -> None:
    get_session().log_params(params)


def set_tag(key: str, value: object) -> None:
    get_session().set_tag(key, value)


def set_tags(tags: Mapping[str, object]) -> None:
    get_session().set_tags(tags)


def flush(timeout: float | None = None) -> FlushToken:
    """Wait until everything logged is acknowledged; the token naming what was written
    (a str for the query service's WaitFor), falsy on timeout or a lost send."""
    return get_session().flush(timeout)


# artifacts of the active run (see tracklog.artifacts.logger)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    get_session().artifacts.log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    get_session().artifacts.log_artifacts(local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    get_session().artifacts.log_text(text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    get_session().artifacts.log_dict(dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    get_session().artifacts.log_figure(figure, artifact_file)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    return get_session().artifacts.get_artifact_uri(artifact_path)


# search (see tracklog.fluent.search)


def search_runs(
    experiment_ids: str | Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: int = 1,  # ViewType.ACTIVE_ONLY
    max_results: int | None = 100_000,
    order_by: Sequence[str] | None = None,
    output_format: Literal["pandas", "list"] = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """MLflow's `search_runs`: a pandas DataFrame (or a list of runs) of the matching runs;
    it sees every write this process made before it (read-your-writes)."""
    from tracklog.fluent import search as search_fluent
    from tracklog.fluent.tracking import get_client

    with _lock:
        session = _default
    current = None if session is None else session.current_experiment
    return search_fluent.search_runs(
        get_client(),
        experiment_ids,
        filter_string,
        run_view_type,
        max_results,
        order_by,
        output_format,
        search_all_experiments,
        experiment_names,
        current_experiment_id=None if current is None else current.experiment_id,
    )
