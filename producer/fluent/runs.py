"""MLflow's fluent logging functions (`tracklog.start_run`, `tracklog.log_metric`,
`tracklog.log_artifact`, ...), each delegating to the default session
(`tracklog.session.default`, which `tracklog.configure` replaces).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from tracklog.contract.flush_tokens import FlushToken
from tracklog.entities import Experiment, Metric, Param, RunTag
from tracklog.run import ActiveRun
from tracklog.session.default import get_session


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
