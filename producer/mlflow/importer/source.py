"""The MLflow store being imported, read through MLflow's own client.

Any tracking URI MLflow reads works: a ``./mlruns`` directory or ``file://`` path,
``sqlite:///``, ``postgresql://`` (and MLflow's other databases), or a server's
``http(s)://``. Reading a file store needs ``MLFLOW_ALLOW_FILE_STORE`` (MLflow 3 refuses
to open one otherwise); the importer only reads it, so it sets that for the process.

A ``postgresql://`` URI names no driver, and SQLAlchemy then wants psycopg2, which
Tracklog does not install: without psycopg2 the source is read with psycopg 3 (Tracklog's
own, ``postgresql+psycopg://``). MLflow's file registry store reads each version's logged
model through MLflow's global tracking URI (``MlflowClient()``, a TODO in MLflow), by
default ``sqlite:///mlflow.db`` in the current directory, which it would create:
`registry_reads` points that URI at the source while the registry is read.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Experiment, Run, ViewType
from mlflow.exceptions import MlflowException

from tracklog.contract.locations import scheme_of
from tracklog.mlflow.importer import sql_histories
from tracklog.mlflow.importer.sql_histories import Point

PAGE = 1000


class SourceError(ValueError):
    """The source cannot be read as asked (no such store, no such experiment)."""


def normalize(uri: str) -> str:
    """A plain path becomes an absolute ``file://`` URI; other URIs are kept."""
    if scheme_of(uri) in ("", "file") and not uri.startswith("file://"):
        path = Path(uri).expanduser().resolve()
        if not path.is_dir():
            raise SourceError(f"no MLflow file store at {uri!r} (not a directory)")
        return path.as_uri()
    return uri


def database_uri(uri: str) -> str:
    """The URI MLflow's client opens: ``postgresql://`` read with psycopg 3 when psycopg2
    is not installed (SQLAlchemy's default driver for it); any other URI as it is."""
    if uri.startswith(("postgresql://", "postgres://")) and not _installed("psycopg2"):
        return "postgresql+psycopg://" + uri.split("://", 1)[1]
    return uri


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@contextmanager
def tracking_uri_at(uri: str) -> Iterator[None]:
    """MLflow's global tracking URI (and MLFLOW_TRACKING_URI) set to ``uri`` inside, put
    back after."""
    from mlflow.tracking._tracking_service import utils

    before, env = utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    utils.set_tracking_uri(uri)
    try:
        yield
    finally:
        utils.set_tracking_uri(before)  # type: ignore[arg-type]  # None: unset, as before
        if env is not None:
            os.environ["MLFLOW_TRACKING_URI"] = env


class MlflowSource:
    """One MLflow tracking store (and its model registry, at the same URI)."""

    def __init__(self, uri: str, registry_uri: str | None = None) -> None:
        self.uri = normalize(uri)
        if scheme_of(self.uri) == "file":
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # ours is drawn
        opened = database_uri(self.uri)
        self.client = MlflowClient(tracking_uri=opened, registry_uri=registry_uri or opened)
        self._database = sql_histories.database_store(self.client)

    @contextmanager
    def registry_reads(self) -> Iterator[None]:
        """Around reads of a file store's registry (see the module docstring)."""
        if scheme_of(self.uri) != "file":
            yield
            return
        with tracking_uri_at(self.uri):
            yield

    def experiments(self, names: Sequence[str] = ()) -> list[Experiment]:
        """Every experiment (active and deleted), oldest id first; only ``names`` if given."""
        found: list[Experiment] = []
        token: str | None = None
        while True:
            page = self.client.search_experiments(
                view_type=ViewType.ALL, max_results=PAGE, page_token=token
            )
            found.extend(page)
            token = page.token
            if not token:
                break
        if names:
            by_name = {e.name: e for e in found}
            missing = [n for n in names if n not in by_name]
            if missing:
                raise SourceError(f"no experiment named {', '.join(map(repr, missing))} in source")
            found = [by_name[n] for n in names]
        return sorted(found, key=_id_order)

    def runs(self, experiment_id: str) -> Iterator[Run]:
        """Every run of the experiment (active and deleted), oldest first."""
        token: str | None = None
        while True:
            page = self.client.search_runs(
                [experiment_id],
                run_view_type=ViewType.ALL,
                max_results=PAGE,
                order_by=["attributes.start_time ASC"],
                page_token=token,
            )
            yield from page
            token = page.token
            if not token:
                return

    def count_runs(self, experiment_id: str) -> int:
        return sum(1 for _ in self.runs(experiment_id))

    def history(self, run_id: str, key: str) -> list[Point]:
        """Every point of one metric as (step, timestamp, value), in MLflow's order, as
        MLflow stored it (NaN and infinities kept)."""
        try:
            found = self.client.get_metric_history(run_id, key)
        except MlflowException as error:  # pragma: no cover - a store that lost the file
            raise SourceError(f"cannot read metric {key!r} of run {run_id}: {error}") from error
        return [(int(m.step), int(m.timestamp), float(m.value)) for m in found]

    def histories(self, run_id: str, keys: Iterable[str]) -> dict[str, list[Point]]:
        """Every point of the run's metrics ``keys`` (in bulk from a database store)."""
        if self._database is not None:
            found = sql_histories.run_histories(self._database, run_id)
            return {key: found.get(key, []) for key in keys}
        return {key: self.history(run_id, key) for key in keys}


def _id_order(experiment: Experiment) -> tuple[int, str]:
    eid = experiment.experiment_id
    return (int(eid), eid) if eid.isdigit() else (1 << 62, eid)
