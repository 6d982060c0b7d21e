"""Where artifacts may live, as every component reads it: relative artifact paths, roots
as URIs, ``s3://`` URIs, the S3 endpoint, and whether a location lies under the allowed
roots. Pure, except reading the endpoint variable and resolving local paths (symlinks).

The SDK writes files under these rules, the worker checks ``ArtifactLogged`` paths and
experiment, run and logged model locations with them (`check_under_roots`), the registry
service checks version sources, and the query service compares roots with them: one
definition for all.
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


# --- allowed roots (issue 12, item 6) ---------------------------------------------------

Location = tuple[str, str, tuple[str, ...]]  # (scheme, bucket or host, path segments)


def location_parts(uri: str) -> Location:
    """A location normalized for comparison: ``file://`` URIs and absolute paths resolved
    (symlinks followed, '..' applied) as ("file", "", segments); other URIs as (scheme,
    host or bucket, segments), refused when a segment is '..'. ValueError for relative
    paths, a NUL character or a backslash, and ``file://`` URIs naming another host."""
    if not uri or "\x00" in uri or "\\" in uri:
        raise ValueError(f"location {uri!r} is empty or holds a NUL or backslash character")
    scheme = scheme_of(uri)
    if scheme in ("", "file"):
        host = urlparse(uri).netloc if scheme == "file" else ""
        if host not in ("", "localhost"):
            raise ValueError(f"location {uri!r} names another host")
        path = local_path_of(uri)
        if not path.is_absolute():
            raise ValueError(f"location {uri!r} must be absolute")
        return ("file", "", Path(os.path.realpath(path)).parts[1:])
    parsed = urlparse(uri)
    segments = tuple(s for s in parsed.path.split("/") if s not in ("", "."))
    if ".." in segments:
        raise ValueError(f"location {uri!r} may not contain '..'")
    return (scheme, parsed.netloc.lower(), segments)


def is_under(location: str, root: str) -> bool:
    """Whether ``location`` lies in ``root`` (or is it), by whole path segments:
    /data/roots2 is not under /data/root. False when either cannot be normalized."""
    try:
        scheme, host, segments = location_parts(location)
        root_scheme, root_host, root_segments = location_parts(root)
    except ValueError:
        return False
    return (scheme, host) == (root_scheme, root_host) and segments[
        : len(root_segments)
    ] == root_segments


PROXIED_SCHEMES = ("mlflow-artifacts",)
"""Locations behind MLflow's artifact proxy (``mlflow server`` with ``--artifacts-destination``):
they name no storage of their own, the proxy keeps the files under the destination its
operator configured, so they are accepted whatever the roots."""


def check_under_roots(what: str, location: str, roots: tuple[str, ...]) -> None:
    """ValueError unless ``location`` lies under one of ``roots`` (or is proxied by an MLflow
    server, see PROXIED_SCHEMES)."""
    if scheme_of(location) in PROXIED_SCHEMES:
        return
    try:
        location_parts(location)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    if not any(is_under(location, root) for root in roots):
        raise ValueError(
            f"{what} {location!r} is outside the allowed artifact roots"
            f" ({', '.join(roots)}; TRACKLOG_ARTIFACT_ROOT, TRACKLOG_ARTIFACT_ROOTS)"
        )
