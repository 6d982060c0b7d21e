"""The S3 artifact store, for AWS S3 and any S3-compatible endpoint (MinIO, Ceph, moto...).

URIs are ``s3://bucket/prefix``. The endpoint comes from ``TRACKLOG_S3_ENDPOINT_URL``
(else ``MLFLOW_S3_ENDPOINT_URL``, else AWS's default); credentials and region
from the standard ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_SESSION_TOKEN`` / ``AWS_DEFAULT_REGION`` variables (or any other source
boto3 reads). boto3 is an optional dependency: ``pip install 'tracklog[s3]'``.
"""

from __future__ import annotations

import builtins
import functools
import os
from pathlib import Path
from typing import Any

from tracklog.artifacts.store import FileInfo, StoredFile, file_digest, put_tree
from tracklog.contract.locations import endpoint_url, join, safe_artifact_path, split_s3_uri


@functools.lru_cache(maxsize=8)
def _client(endpoint: str | None) -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise ImportError(
            "s3:// artifact URIs need boto3: pip install 'tracklog[s3]' (or pip install boto3)"
        ) from exc
    return boto3.client("s3", endpoint_url=endpoint)


def _missing(error: Exception) -> bool:
    code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3ArtifactStore:
    """Objects under ``s3://bucket/prefix``; one object per file, no directory markers."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.bucket, self.prefix = split_s3_uri(uri)
        self._s3 = _client(endpoint_url())

    def _key(self, path: str) -> str:
        return join(self.prefix, path)

    def put_file(self, local_path: str | os.PathLike[str], artifact_path: str) -> StoredFile:
        path = safe_artifact_path(artifact_path, allow_root=False)
        size, digest = file_digest(local_path)
        self._s3.upload_file(os.fspath(local_path), self.bucket, self._key(path))
        return StoredFile(path, size, digest)

    def put_dir(
        self, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> builtins.list[StoredFile]:
        return put_tree(self, local_dir, artifact_path)

    def list(self, path: str | None = None) -> builtins.list[FileInfo]:
        rel = safe_artifact_path(path)
        key = self._key(rel)
        listing = key + "/" if key else ""
        infos: builtins.list[FileInfo] = []
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=listing, Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                name = str(common["Prefix"])[len(listing) :].strip("/")
                infos.append(FileInfo(join(rel, name), True, None))
            for obj in page.get("Contents", []):
                name = str(obj["Key"])[len(listing) :]
                if name:
                    infos.append(FileInfo(join(rel, name), False, int(obj["Size"])))
        return sorted(infos, key=lambda info: info.path)

    def download(self, path: str, dst_dir: str | os.PathLike[str]) -> str:
        rel = safe_artifact_path(path)
        target = Path(dst_dir) / rel if rel else Path(dst_dir)
        if rel and self._is_file(self._key(rel)):
            self._fetch(self._key(rel), target)
            return str(target)
        under = self._key(rel) + "/" if rel or self.prefix else ""
        found = False
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=under)
        for page in pages:
            for obj in page.get("Contents", []):
                try:  # never write outside target, whatever the bucket holds
                    name = safe_artifact_path(str(obj["Key"])[len(under) :], allow_root=False)
                except ValueError:
                    continue
                self._fetch(str(obj["Key"]), target / name)
                found = True
        if not found:
            raise FileNotFoundError(f"no artifact {rel!r} under {self.uri}")
        return str(target)

    def _is_file(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            if _missing(error):
                return False
            raise
        return True

    def _fetch(self, key: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        self._s3.download_file(self.bucket, key, str(target))
