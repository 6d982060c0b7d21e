"""Where artifacts may live, as every component reads it: relative artifact paths, roots
as URIs, ``s3://`` URIs and the S3 endpoint. Pure, except reading the endpoint variable.

The SDK writes files under these rules, the worker checks ``ArtifactLogged`` paths with
them, and the query service compares roots with them: one definition for all three.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

_DRIVE = re.compile(r"^[A-Za-z]:")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix without surrounding slashes)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3://bucket/prefix URI: {uri!r}")
    return parsed.netloc, parsed.path.strip("/")


def endpoint_url() -> str | None:
    return os.environ.get("TRACKLOG_S3_ENDPOINT_URL") or os.environ.get("MLFLOW_S3_ENDPOINT_URL")


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
    if scheme_of(root) in ("", "file"):
        return local_path_of(root).resolve().as_uri()
    return root.rstrip("/")


def experiment_root(location: str) -> str:
    """An experiment's given location as MLflow's stores keep it: a plain path made absolute
    (still a path), a URI as `normalize_root` gives it."""
    if scheme_of(location) == "":
        return str(Path(location).resolve())
    return normalize_root(location)


def local_path_of(uri: str) -> Path:
    """The directory a ``file://`` URI or plain path names."""
    if scheme_of(uri) == "file":
        return Path(url2pathname(urlparse(uri).path))
    return Path(uri)


def scheme_of(uri: str) -> str:
    scheme = urlparse(uri).scheme
    return "" if len(scheme) <= 1 else scheme.lower()  # "C:\\..." is a path, not a scheme
