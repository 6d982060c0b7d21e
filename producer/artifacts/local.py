"""The local directory artifact store (``file://`` URIs or plain paths)."""

from __future__ import annotations

import builtins
import os
import shutil
import tempfile
from pathlib import Path

from tracklog.artifacts.store import FileInfo, StoredFile, copy_hashing, put_tree
from tracklog.contract.locations import join, local_path_of, safe_artifact_path

_TEMPORARY = ".tracklog-tmp-"


class LocalArtifactStore:
    """Files under a directory; each file is written to a temporary name, then renamed."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.root = local_path_of(uri)

    def _local(self, path: str) -> Path:
        return self.root / path if path else self.root

    def put_file(self, local_path: str | os.PathLike[str], artifact_path: str) -> StoredFile:
        path = safe_artifact_path(artifact_path, allow_root=False)
        target = self._local(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f"{_TEMPORARY}{target.name}.")
        try:
            with open(local_path, "rb") as source, os.fdopen(fd, "wb") as sink:
                size, digest = copy_hashing(source, sink)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return StoredFile(path, size, digest)

    def put_dir(
        self, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> builtins.list[StoredFile]:
        return put_tree(self, local_dir, artifact_path)

    def list(self, path: str | None = None) -> builtins.list[FileInfo]:
        prefix = safe_artifact_path(path)
        directory = self._local(prefix)
        if not directory.is_dir():
            return []
        infos = []
        for entry in os.scandir(directory):
            if entry.name.startswith(_TEMPORARY):  # a file being written
                continue
            rel = join(prefix, entry.name)
            if entry.is_dir():
                infos.append(FileInfo(rel, True, None))
            else:
                infos.append(FileInfo(rel, False, entry.stat().st_size))
        return sorted(infos, key=lambda info: info.path)

    def download(self, path: str, dst_dir: str | os.PathLike[str]) -> str:
        rel = safe_artifact_path(path)
        source = self._local(rel)
        target = Path(dst_dir) / rel if rel else Path(dst_dir)
        if source.is_dir():
            ignore = shutil.ignore_patterns(f"{_TEMPORARY}*")
            shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        else:
            raise FileNotFoundError(f"no artifact {rel!r} under {self.uri}")
        return str(target)
