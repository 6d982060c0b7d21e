"""Who owns which part of a shared spool directory.

Several processes (the ranks of a distributed job, or runs started one after
another) may use one spool directory. Each process writes in its own
subdirectory, holding an exclusive ``flock`` on its ``lock`` file for its
lifetime (the kernel releases it when the process exits or dies). A
subdirectory whose lock can be taken belongs to nobody: a starting process
adopts it, ships its records and deletes it. A new subdirectory is prepared
under a dot name and renamed once locked, so nobody adopts it half made. A
subdirectory names the brokers and topic its records are meant for; only a
process configured for the same ones adopts it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from pathlib import Path

LOCK_FILE = "lock"
TARGET_FILE = "target"  # the broker list and topic the records are for


class ClaimedDirectory:
    """A spool subdirectory this process holds the lock of."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd = lock_fd

    def release(self, *, remove: bool) -> None:
        """Give the directory up; ``remove`` deletes it first (it must hold nothing left)."""
        if self._lock_fd < 0:
            return
        if remove:
            shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._lock_fd)  # releases the flock
        self._lock_fd = -1


def _try_lock(lock_path: Path) -> int | None:
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _target(path: Path) -> str | None:
    try:
        return (path / TARGET_FILE).read_text()
    except OSError:
        return None


def create_own(root: Path, target: str) -> ClaimedDirectory:
    """A new subdirectory of ``root`` for this process, locked, for records to ``target``."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging = root / f".{name}"
    staging.mkdir()
    lock_path = staging / LOCK_FILE
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    (staging / TARGET_FILE).write_text(target)
    final = root / name
    staging.rename(final)
    return ClaimedDirectory(final, fd)


def adopt_orphans(root: Path, own: Path, target: str) -> list[ClaimedDirectory]:
    """Lock every other subdirectory of ``root`` for ``target`` whose owner is gone,
    oldest first."""
    adopted = []
    for path in sorted(root.iterdir()):
        if path == own or path.name.startswith(".") or not path.is_dir():
            continue
        fd = _try_lock(path / LOCK_FILE)
        if fd is None:
            continue  # a live process holds it, or it is being removed
        if not path.exists() or _target(path) != target:  # removed meanwhile, or not ours
            os.close(fd)
            continue
        adopted.append(ClaimedDirectory(path, fd))
    return adopted
