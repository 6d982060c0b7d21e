"""Artifact stores: where a run's files live, behind one small interface.

Files go straight from the SDK to the store (never through Kafka). A store is
rooted at a URI, usually a run's ``artifact_uri``; every ``artifact_path`` is
relative to that root, '/'-separated, and checked by `safe_artifact_path` before
anything is written. `open_store` picks the implementation from the URI's scheme:
``s3://bucket/prefix`` (any S3-compatible endpoint, see artifact_s3.py), ``file://``
URIs or plain paths (a local directory, see artifact_local.py).
"""

from __future__ import annotations

import builtins
import hashlib
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import urlparse
from urllib.request import url2pathname

_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


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


def safe_artifact_path(path: str | None, *, allow_root: bool = True) -> str:
    """Normalize a relative artifact path ('' is the root); ValueError when it is absolute,
    climbs out of the root with '..', or holds a NUL character or a backslash."""
    if path is None or path in ("", "."):
        if allow_root:
            return ""
        raise ValueError("an artifact path is required here")
    if "\x00" in path or "\\" in path:
        raise ValueError(f"artifact path {path!r} may not contain NUL or backslash characters")
    if path.startswith("/") or _DRIVE.match(path) or "://" in path:
        raise ValueError(f"artifact path {path!r} must be relative, not absolute")
    if ".." in path.split("/"):
        raise ValueError(f"artifact path {path!r} may not contain '..'")
    normalized = posixpath.normpath(path)
    if normalized == ".":
        return "" if allow_root else safe_artifact_path(None, allow_root=False)
    return normalized


def join(*parts: str) -> str:
    """Join artifact path parts with '/', skipping empty ones."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def join_uri(base: str, *parts: str) -> str:
    """``base`` (a URI or path) followed by relative parts."""
    tail = join(*parts)
    if not tail:
        return base
    return f"{base.rstrip('/')}/{tail}"


def normalize_root(root: str) -> str:
    """A root as a URI: S3 and file URIs as given, plain paths as absolute file URIs."""
    if _scheme(root) in ("", "file"):
        return local_path_of(root).resolve().as_uri()
    return root.rstrip("/")


def experiment_root(location: str) -> str:
    """An experiment's given location as MLflow's stores keep it: a plain path made absolute
    (still a path), a URI as `normalize_root` gives it."""
    if _scheme(location) == "":
        return str(Path(location).resolve())
    return normalize_root(location)


def local_path_of(uri: str) -> Path:
    """The directory a ``file://`` URI or plain path names."""
    if _scheme(uri) == "file":
        return Path(url2pathname(urlparse(uri).path))
    return Path(uri)


def open_store(uri: str) -> ArtifactStore:
    """The store rooted at ``uri``: s3:// -> S3, file:// or a plain path -> local directory."""
    scheme = _scheme(uri)
    if scheme == "s3":
        from tracklog.artifact_s3 import S3ArtifactStore

        return S3ArtifactStore(uri)
    if scheme in ("", "file"):
        from tracklog.artifact_local import LocalArtifactStore

        return LocalArtifactStore(uri)
    raise ValueError(
        f"unsupported artifact URI scheme {scheme!r} in {uri!r} (use s3:// or file://)"
    )


def _scheme(uri: str) -> str:
    scheme = urlparse(uri).scheme
    return "" if len(scheme) <= 1 else scheme.lower()  # "C:\\..." is a path, not a scheme


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
