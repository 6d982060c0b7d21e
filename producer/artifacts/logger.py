"""`ArtifactLogger`: the SDK's artifact calls, owned by a `Session` (``session.artifacts``).

Layout (as MLflow's): an experiment's location is decided once, where it is created:
the given ``artifact_location``, else ``<root>/<experiment id>`` with the deployment's
artifact root (what the query service says, `tracklog.deployment`; the embedded stack's
is ``<data dir>/artifacts``), else this process's ``TRACKLOG_ARTIFACT_ROOT`` (default
``./tracklog-artifacts``) when no query service answers. Every later client follows
the location recorded with the experiment. A run's ``artifact_uri`` is
``<experiment location>/<run id>/artifacts``.

Files are written to the store first, then one ``ArtifactLogged`` event per file
(path, size, SHA-256) is queued; artifact paths are checked (ValueError for
absolute paths or '..') before anything is written.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracklog.artifacts import content as artifact_content
from tracklog.artifacts.schemes import open_store
from tracklog.artifacts.store import FileInfo, StoredFile
from tracklog.contract.locations import (
    check_under_roots,
    experiment_root,
    join,
    join_uri,
    normalize_root,
    safe_artifact_path,
)
from tracklog.deployment import Deployment
from tracklog.events import payloads as events
from tracklog.sending.batcher import Handover, PendingEvent

DEFAULT_ARTIFACT_ROOT = "./tracklog-artifacts"


@dataclass(slots=True)
class _Known:
    """Locations and run URIs this process knows, shared by a session's loggers."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    locations: dict[str, str] = field(default_factory=dict)  # experiment id -> location
    run_uris: dict[str, str] = field(default_factory=dict)  # run id -> artifact_uri


def _no_active_run() -> str:
    raise ValueError("no run_id given and no active run")


class ArtifactLogger:
    """Artifact calls for runs; ``run_id=None`` means the session's active run."""

    def __init__(
        self,
        root: str | None,
        batcher: Handover,
        active_run_id: Callable[[], str] = _no_active_run,
        lookup_uri: Callable[[str], str] | None = None,
        *,
        known: _Known | None = None,
        deployment: Deployment | None = None,
    ) -> None:
        self.root = normalize_root(root or DEFAULT_ARTIFACT_ROOT)  # without a query service
        self._batcher = batcher
        self._active_run_id = active_run_id
        self._lookup_uri = lookup_uri
        self._known = known if known is not None else _Known()
        self._deployment = deployment

    def with_lookup(self, lookup_uri: Callable[[str], str]) -> ArtifactLogger:
        """A logger sharing this one's state that asks ``lookup_uri`` for unknown runs."""
        return ArtifactLogger(
            self.root,
            self._batcher,
            self._active_run_id,
            lookup_uri,
            known=self._known,
            deployment=self._deployment,
        )

    # layout

    def experiment_location(
        self, experiment_id: str, artifact_location: str | None = None, *, recorded: bool = False
    ) -> str:
        """The experiment's location: the given one, a known one, the one recorded with the
        experiment, or (for one not created yet) the deployment's default; remembered. A
        given location for a new experiment (not ``recorded``) must lie under the
        deployment's allowed roots (ValueError naming them, before anything is written)."""
        if artifact_location is not None:
            if not artifact_location.strip() or "\x00" in artifact_location:
                raise ValueError(f"invalid artifact_location {artifact_location!r}")
            location = experiment_root(artifact_location)
            if not recorded:
                self._check_allowed(location)
            with self._known.lock:
                self._known.locations[experiment_id] = location
            return location
        with self._known.lock:
            known = self._known.locations.get(experiment_id)
        if known is not None:
            return known
        location = self._deployed_location(experiment_id)
        with self._known.lock:
            return self._known.locations.setdefault(experiment_id, location)

    def _check_allowed(self, location: str) -> None:
        """ValueError naming the deployment's roots when ``location`` lies outside them,
        before anything is written there (the worker would dead-letter the experiment)."""
        roots = self._deployment.allowed_roots() if self._deployment is not None else ()
        if roots:
            check_under_roots("artifact_location", location, roots)

    def _deployed_location(self, experiment_id: str) -> str:
        if self._deployment is None:
            return join_uri(self.root, experiment_id)
        recorded = self._deployment.recorded_location(experiment_id)
        if recorded is not None:
            return normalize_root(recorded)
        return join_uri(self._deployment.artifact_root(), experiment_id)

    def run_started(self, run_id: str, experiment_id: str) -> str:
        """Mint (and remember) the artifact_uri of a run this process starts."""
        uri = join_uri(self.experiment_location(experiment_id), run_id, "artifacts")
        with self._known.lock:
            self._known.run_uris[run_id] = uri
        return uri

    def artifact_uri(self, run_id: str) -> str:
        with self._known.lock:
            uri = self._known.run_uris.get(run_id)
        if uri is not None:
            return uri
        if self._lookup_uri is None:
            raise ValueError(
                f"run {run_id!r} was not started in this session; use TracklogClient for it"
            )
        uri = self._lookup_uri(run_id)
        if not uri:
            raise ValueError(f"run {run_id!r} has no artifact_uri")
        with self._known.lock:
            self._known.run_uris[run_id] = uri
        return uri

    def get_artifact_uri(
        self, artifact_path: str | None = None, *, run_id: str | None = None
    ) -> str:
        path = safe_artifact_path(artifact_path)
        return join_uri(self.artifact_uri(self._run(run_id)), path)

    # writing

    def log_artifact(
        self,
        local_path: str | os.PathLike[str],
        artifact_path: str | None = None,
        *,
        run_id: str | None = None,
    ) -> None:
        """Store one local file under ``artifact_path`` (the root when None)."""
        prefix = safe_artifact_path(artifact_path)
        if not os.path.isfile(local_path):
            raise FileNotFoundError(f"{os.fspath(local_path)!r} is not a file")
        run = self._run(run_id)
        target = join(prefix, Path(local_path).name)
        self._record(run, [open_store(self.artifact_uri(run)).put_file(local_path, target)])

    def log_artifacts(
        self,
        local_dir: str | os.PathLike[str],
        artifact_path: str | None = None,
        *,
        run_id: str | None = None,
    ) -> None:
        """Store every file under ``local_dir`` (recursively) under ``artifact_path``."""
        prefix = safe_artifact_path(artifact_path)
        if not os.path.isdir(local_dir):
            raise ValueError(f"{os.fspath(local_dir)!r} is not a directory")
        run = self._run(run_id)
        self._record(run, open_store(self.artifact_uri(run)).put_dir(local_dir, prefix))

    def log_text(self, text: str, artifact_file: str, *, run_id: str | None = None) -> None:
        self._log_content(artifact_content.write_text, text, artifact_file, run_id)

    def log_dict(self, dictionary: Any, artifact_file: str, *, run_id: str | None = None) -> None:
        """JSON, or YAML when ``artifact_file`` ends in .yaml/.yml and PyYAML is installed."""
        self._log_content(artifact_content.write_dict, dictionary, artifact_file, run_id)

    def log_figure(self, figure: Any, artifact_file: str, *, run_id: str | None = None) -> None:
        """A matplotlib Figure, in the format ``artifact_file``'s extension names."""
        self._log_content(artifact_content.write_figure, figure, artifact_file, run_id)

    def _log_content(
        self,
        write: Callable[[Any, Path], None],
        content: Any,
        artifact_file: str,
        run_id: str | None,
    ) -> None:
        path = safe_artifact_path(artifact_file, allow_root=False)
        run = self._run(run_id)
        uri = self.artifact_uri(run)
        with tempfile.TemporaryDirectory(prefix="tracklog-artifact-") as scratch:
            local = Path(scratch) / path.rsplit("/", 1)[-1]
            write(content, local)
            stored = open_store(uri).put_file(local, path)
        self._record(run, [stored])

    def _record(self, run_id: str, stored: Sequence[StoredFile]) -> None:
        now = time.time_ns()
        pending = [
            PendingEvent(run_id, events.artifact_logged(s.path, s.size, s.digest), now)
            for s in stored
        ]
        if pending:
            self._batcher.put(run_id, pending)

    # reading

    def list_artifacts(
        self, path: str | None = None, *, run_id: str | None = None
    ) -> list[FileInfo]:
        """The direct children of ``path`` in the run's store (MLflow's FileInfo)."""
        prefix = safe_artifact_path(path)
        return open_store(self.artifact_uri(self._run(run_id))).list(prefix)

    def download_artifacts(
        self, path: str = "", dst_path: str | None = None, *, run_id: str | None = None
    ) -> str:
        """Copy a file or directory of the run's store to ``dst_path`` (a new temporary
        directory when None); return the local path of the copy."""
        rel = safe_artifact_path(path)
        run = self._run(run_id)
        dst = dst_path if dst_path is not None else tempfile.mkdtemp(prefix="tracklog-download-")
        Path(dst).mkdir(parents=True, exist_ok=True)
        return open_store(self.artifact_uri(run)).download(rel, dst)

    def _run(self, run_id: str | None) -> str:
        return self._active_run_id() if run_id is None else run_id
