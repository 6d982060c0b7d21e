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
from typing import Any

from tracklog.entities import Experiment, Metric, Param, RunTag, Unsent
from tracklog.run import ActiveRun
from tracklog.session import Session
from tracklog.settings import KafkaSettings

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
            "sent to Kafka before the session closed",
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


def set_experiment(name: str) -> Experiment:
    return get_session().set_experiment(name)


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, object] | None = None,
) -> ActiveRun:
    return get_session().start_run(run_id, experiment_id, run_name, nested, tags)


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


def flush(timeout: float | None = None) -> bool:
    return get_session().flush(timeout)
