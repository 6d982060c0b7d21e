"""Ending the shipper processes a test session started, so none outlives it.

Sessions still open are closed first (as at interpreter exit, with the short flush budget
the session sets): closing one can start a shipper again. Then every shipper that this
process started, or that serves a spool directory under the session's temporary
directories (those started by tests' subprocesses), gets SIGTERM, and SIGKILL if it is
still there after ``grace`` seconds (it may be waiting on a broker that is gone).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a child of this process that exited is a zombie until reaped
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


def shippers_under(roots: list[Path]) -> set[int]:
    """Pids of the shipper processes serving a spool directory under ``roots``."""
    from tracklog.shipper import launch

    found: set[int] = set()
    for root in roots:
        for info in root.rglob(launch.INFO_FILE):
            if not launch.running(info.parent):
                continue
            with contextlib.suppress(OSError, ValueError, KeyError):
                found.add(int(json.loads(info.read_text())["pid"]))
    return found


def stop_shippers(roots: list[Path], grace: float = 3.0) -> list[int]:
    """Stop every shipper this session started or that serves a directory under ``roots``;
    returns the pids that needed SIGKILL."""
    from tracklog.session import default, facade
    from tracklog.shipper import launch

    with contextlib.suppress(Exception):
        default._at_exit()
        facade._close_open_sessions()
    pids = set(launch.started_pids) | shippers_under(roots)
    pids.discard(os.getpid())
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    killed = [pid for pid in pids if _alive(pid)]
    for pid in killed:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return killed
