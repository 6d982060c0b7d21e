"""Where archive files live: a local directory or ``s3://bucket/prefix``.

Both stores make a file appear whole or not at all: a local file is written to
a temporary name, flushed to disk and renamed; an S3 PUT is atomic. The S3
endpoint comes from ``TRACKLOG_S3_ENDPOINT_URL`` (as for the artifact store,
see tracklog/artifact_s3.py), credentials from the standard AWS variables.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Protocol

from tracklog.contract.locations import endpoint_url, split_s3_uri

TEMPORARY_PREFIX = ".tmp-"


class ArchiveStorage(Protocol):
    root: str

    def put(self, path: str, data: bytes) -> None:
        """Store data at path (relative, '/'-separated), atomically."""

    def get(self, path: str) -> bytes: ...

    def list_dir(self, path: str) -> list[str]:
        """Names of the files and directories directly under path ('' = the root); [] if none."""


class LocalStorage:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self._base = Path(self.root)

    def put(self, path: str, data: bytes) -> None:
        target = self._base / path
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}-{target.name}")
        try:
            with open(temporary, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)

    def get(self, path: str) -> bytes:
        return (self._base / path).read_bytes()

    def list_dir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self._base / path))
        except (FileNotFoundError, NotADirectoryError):
            return []


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3Storage:
    """Objects under ``s3://bucket/prefix``; no directory markers."""

    def __init__(self, uri: str, client: Any | None = None) -> None:
        self.root = uri
        self.bucket, self.prefix = split_s3_uri(uri)
        self._s3 = client if client is not None else s3_client()

    def _key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def put(self, path: str, data: bytes) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=self._key(path), Body=data)

    def get(self, path: str) -> bytes:
        body = self._s3.get_object(Bucket=self.bucket, Key=self._key(path))["Body"]
        return bytes(body.read())

    def list_dir(self, path: str) -> list[str]:
        listing = self._key(path).rstrip("/") + "/" if path or self.prefix else ""
        names: list[str] = []
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=listing, Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                names.append(str(common["Prefix"])[len(listing) :].strip("/"))
            for obj in page.get("Contents", []):
                names.append(str(obj["Key"])[len(listing) :])
        return sorted(name for name in names if name)


def s3_client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise ImportError(
            "an s3:// archive root needs boto3: pip install 'tracklog[s3]' (or pip install boto3)"
        ) from exc
    # bounded waits: a failing write must reach the worker (which backs off) in seconds
    config = Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    return boto3.client("s3", endpoint_url=endpoint_url(), config=config)


def open_storage(root: str) -> ArchiveStorage:
    """The storage for an archive root: ``s3://bucket/prefix`` or a local directory."""
    if not root:
        raise ValueError("no archive root: set TRACKLOG_ARCHIVE_ROOT or pass --archive")
    if root.startswith("s3://"):
        return S3Storage(root)
    if "://" in root:
        raise ValueError(f"unsupported archive root {root!r}: a directory or s3://bucket/prefix")
    return LocalStorage(root)
