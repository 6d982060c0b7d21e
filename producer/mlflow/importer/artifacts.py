"""Artifacts: a run's, and an MLflow 3 logged model's, copied from MLflow's artifact store
into Tracklog's.

Each file is downloaded through MLflow (whatever store the source uses: a path, a cloud
bucket, a server's ``mlflow-artifacts:`` proxy) and put into Tracklog's store with the
SDK's artifact stores: a run's under its ``artifact_uri`` (announced by an
``ArtifactLogged`` event: path, size, SHA-256, as the SDK does), a logged model's under
its ``artifact_location`` (a model's files have no events: readers list the location).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any

from mlflow import MlflowClient
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from tracklog.artifacts.schemes import open_store
from tracklog.artifacts.store import ArtifactStore, StoredFile, put_tree


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    size: int


def listing(client: MlflowClient, run_id: str, path: str | None = None) -> list[SourceFile]:
    """Every file of the run's artifacts (recursively), sorted by path."""
    found: list[SourceFile] = []
    for entry in client.list_artifacts(run_id, path):
        if entry.is_dir:
            found.extend(listing(client, run_id, entry.path))
        else:
            found.append(SourceFile(entry.path, int(entry.file_size or 0)))
    return sorted(found, key=lambda f: f.path)


def copy_run(client: MlflowClient, run_id: str, target_uri: str) -> list[StoredFile]:
    """Download the run's artifacts and store them under ``target_uri``."""
    with tempfile.TemporaryDirectory(prefix="tracklog-import-") as folder:
        local = client.download_artifacts(run_id, "", folder)
        return put_tree(open_store(target_uri), local, None)


class LocationFiles:
    """The files at an MLflow artifact location (a logged model's), read through MLflow's
    artifact repository for it (not MLflow's per-id cache of repositories, which would
    answer for another store's model of the same id)."""

    def __init__(self, client: MlflowClient, location: str) -> None:
        self.location = location
        self._repository: Any = get_artifact_repository(location, tracking_uri=client.tracking_uri)

    def listing(self, path: str | None = None) -> list[SourceFile]:
        """Every file under the location (recursively), sorted by path; none if it is
        missing."""
        found: list[SourceFile] = []
        try:
            entries = self._repository.list_artifacts(path)
        except (FileNotFoundError, NotADirectoryError):
            return []
        for entry in entries:
            if entry.is_dir:
                found.extend(self.listing(entry.path))
            else:
                found.append(SourceFile(entry.path, int(entry.file_size or 0)))
        return sorted(found, key=lambda f: f.path)

    def copy_to(self, target_uri: str) -> list[StoredFile]:
        """Download every file and store it under ``target_uri``."""
        with tempfile.TemporaryDirectory(prefix="tracklog-import-") as folder:
            local = self._repository.download_artifacts("", dst_path=folder)
            return put_tree(open_store(target_uri), local, None)


def held(target_uri: str) -> list[SourceFile]:
    """The files Tracklog's store already holds under ``target_uri`` (recursively)."""
    store = open_store(target_uri)
    return _held(store, None)


def _held(store: ArtifactStore, path: str | None) -> list[SourceFile]:
    found: list[SourceFile] = []
    for entry in store.list(path):
        if entry.is_dir:
            found.extend(_held(store, entry.path))
        else:
            found.append(SourceFile(entry.path, int(entry.file_size or 0)))
    return sorted(found, key=lambda f: f.path)
