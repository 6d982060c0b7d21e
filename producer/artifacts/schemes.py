"""`open_store`: the artifact store for a URI, chosen by its scheme: ``s3://bucket/prefix``
(any S3-compatible endpoint, s3.py), ``file://`` URIs or plain paths (a local directory,
local.py)."""

from __future__ import annotations

from tracklog.artifacts.local import LocalArtifactStore
from tracklog.artifacts.s3 import S3ArtifactStore
from tracklog.artifacts.store import ArtifactStore
from tracklog.contract.locations import scheme_of


def open_store(uri: str) -> ArtifactStore:
    """The store rooted at ``uri``: s3:// -> S3, file:// or a plain path -> local directory."""
    scheme = scheme_of(uri)
    if scheme == "s3":
        return S3ArtifactStore(uri)
    if scheme in ("", "file"):
        return LocalArtifactStore(uri)
    raise ValueError(
        f"unsupported artifact URI scheme {scheme!r} in {uri!r} (use s3:// or file://)"
    )
