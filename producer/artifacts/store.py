"""Artifact stores: where a run's files live, behind one small interface.

Files go straight from the SDK to the store (never through Kafka). A store is
rooted at a URI, usually a run's ``artifact_uri``; every ``artifact_path`` is
relative to that root, '/'-separated, and checked by `safe_artifact_path` before
anything is written. The implementations are in local.py and s3.py; `open_store`
(schemes.py) picks one by the URI's scheme.
"""

from __future__ import annotations

import builtins
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from tracklog.contract.locations import join, safe_artifact_path

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of a listing, as MLflow's FileInfo: path relative to the store root,
    whether it is a directory, and the size in bytes (None for a directory)."""

    path: str
    is_dir: bool
    file_size: int | None = None


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file written to a store: its artifact path, size in bytes and hex SHA-256."""

    path: str
    size: int
    digest: str


class ArtifactStore(Protocol):
    """A tree of files under one root URI."""

    uri: str

    def put_file(self, local_path: str | os.PathLike[str], artifact_path: str) -> StoredFile:
        """Store one local file at ``artifact_path`` (the file's full relative path)."""
        ...

    def put_dir(
        self, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> builtins.list[StoredFile]:
        """Store every file under ``local_dir`` (recursively) below ``artifact_path``."""
        ...

    def list(self, path: str | None = None) -> builtins.list[FileInfo]:
        """The direct children of ``path`` (the root when None), sorted by path."""
        ...

    def download(self, path: str, dst_dir: str | os.PathLike[str]) -> str:
        """Copy the file or directory (recursively) at ``path`` to ``dst_dir/path``."""
        ...


def copy_hashing(source: IO[bytes], target: IO[bytes] | None = None) -> tuple[int, str]:
    """Read ``source`` to the end (writing it to ``target`` if given): (size, hex SHA-256)."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if target is not None:
            target.write(chunk)
    return size, digest.hexdigest()


def file_digest(path: str | os.PathLike[str]) -> tuple[int, str]:
    """(size in bytes, hex SHA-256) of a local file."""
    with open(path, "rb") as source:
        return copy_hashing(source)


def put_tree(
    store: ArtifactStore, local_dir: str | os.PathLike[str], artifact_path: str | None
) -> list[StoredFile]:
    """Every file under ``local_dir`` put under ``artifact_path`` (each store's put_dir)."""
    prefix = safe_artifact_path(artifact_path)
    return [store.put_file(p, join(prefix, rel)) for p, rel in local_files(local_dir)]


def local_files(local_dir: str | os.PathLike[str]) -> list[tuple[Path, str]]:
    """Every file under ``local_dir`` with its '/'-separated path relative to it, sorted."""
    root = Path(local_dir)
    if not root.is_dir():
        raise ValueError(f"{str(root)!r} is not a directory")
    return sorted((p, p.relative_to(root).as_posix()) for p in root.rglob("*") if p.is_file())
