"""Claiming the embedded stack's data directory: one `tracklog up` at a time, and only a
directory this version can read.

`claim` takes an exclusive lock on ``<data dir>/tracklog.lock`` (released when the
process exits, however it exits) and reads ``<data dir>/tracklog-data.json``, the
stamp naming the layout's format; a directory stamped by a newer Tracklog is refused,
a new or unstamped one is stamped with this version's format.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO

DATA_FORMAT = 1  # raise when the layout changes in a way an older Tracklog cannot read
LOCK_FILE = "tracklog.lock"
STAMP_FILE = "tracklog-data.json"


def tracklog_version() -> str:
    try:
        return version("tracklog")
    except PackageNotFoundError:
        return "unknown"


class DataDirError(Exception):
    """The data directory cannot be used; the message says why."""


class DataDirLocked(DataDirError):
    pass


class DataDirUnusable(DataDirError):
    pass


class DataDirTooNew(DataDirError):
    pass


@dataclass(slots=True)
class DataDirClaim:
    """An exclusive hold on a data directory until `release` (or the process's exit)."""

    path: Path
    lock: IO[str]

    def release(self) -> None:
        self.lock.close()


def _open_lock(path: Path) -> IO[str]:
    try:
        path.mkdir(parents=True, exist_ok=True)
        return open(path / LOCK_FILE, "a+")  # held until release
    except OSError as error:
        reason = error.strerror or str(error)
        raise DataDirUnusable(f"the data directory {path} cannot be used: {reason}") from error


def _lock(path: Path) -> IO[str]:
    lock = _open_lock(path)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise DataDirLocked(
            f"the data directory {path} is used by another `tracklog up` (pid {holder})"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


def _check_format(path: Path) -> None:
    stamp = path / STAMP_FILE
    try:
        found = json.loads(stamp.read_text()) if stamp.exists() else None
    except (OSError, ValueError) as error:
        raise DataDirUnusable(f"cannot read {stamp}: {error}") from error
    if isinstance(found, dict) and int(found.get("format", 0)) > DATA_FORMAT:
        raise DataDirTooNew(
            f"the data directory {path} was written by a newer Tracklog "
            f"({found.get('written_by', '?')}, data format {found['format']}); "
            f"this is tracklog {tracklog_version()} (data format {DATA_FORMAT})"
        )
    if found is None or int(found.get("format", 0)) < DATA_FORMAT:
        written = {"format": DATA_FORMAT, "written_by": f"tracklog {tracklog_version()}"}
        stamp.write_text(json.dumps(written) + "\n")


def claim(path: Path) -> DataDirClaim:
    """Lock the data directory for this process and check its format (DataDirError if not)."""
    path = path.expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise DataDirUnusable(f"the data directory {path} is not a directory")
    lock = _lock(path)
    try:
        _check_format(path)
    except BaseException:
        lock.close()
        raise
    return DataDirClaim(path, lock)
