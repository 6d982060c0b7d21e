"""A run's artifacts: copied from MLflow's artifact store into Tracklog's.

Each file is downloaded through MLflow's client (whatever store the source uses), put
into Tracklog's store under the run's ``artifact_uri`` with the SDK's artifact stores,
and announced by an ``ArtifactLogged`` event (path, size, SHA-256), as the SDK does.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

from mlflow import MlflowClient

from tracklog.artifacts.schemes import open_store
from tracklog.artifacts.store import StoredFile, put_tree


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
