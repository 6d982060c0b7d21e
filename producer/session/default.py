"""The process's default `Session`, created on first use, which the fluent functions
(`tracklog.fluent`) and the clients without a session of their own (`tracklog.client`)
write through.

The default session reads its Kafka settings from the environment
(``TRACKLOG_KAFKA_BOOTSTRAP``, ``TRACKLOG_EVENTS_TOPIC``, ...) unless `configure`
replaces it. At interpreter exit it ends the runs still active (FAILED if an
uncaught exception ended the program, else FINISHED), flushes for up to
``TRACKLOG_EXIT_FLUSH_SECONDS`` (default 30) and warns about anything unsent.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import warnings
from typing import Any

from tracklog.contract.settings import KafkaSettings
from tracklog.entities import Unsent
from tracklog.session.facade import Session

_lock = threading.Lock()
_default: Session | None = None
_atexit_registered = False


def _install(session: Session) -> Session:
    global _default, _atexit_registered
    _default = session
    if not _atexit_registered:
        atexit.register(_at_exit)
        _atexit_registered = True
    return session


def get_session() -> Session:
    """The default session, created on first use (once made, read without the lock: every
    fluent logging call asks for it)."""
    session = _default
    if session is not None:
        return session
    with _lock:
        return _default if _default is not None else _install(Session())


def existing_session() -> Session | None:
    """The default session if one was created (reads use it to see this process's writes
    without creating a session, and its Kafka producer, when nothing was written)."""
    with _lock:
        return _default


def configure(kafka: KafkaSettings | None = None, **sender_options: Any) -> Session:
    """Replace the default session; the old one is flushed and closed first.

    ``sender_options`` are `Session`'s keyword options (``max_buffered_points``,
    ``max_block_seconds``, ``compression_type``, ...).
    """
    global _default
    with _lock:
        old, _default = _default, None
    if old is not None:
        _warn_unsent(old.close())
    session = Session(kafka, **sender_options)
    with _lock:
        return _install(session)


def _warn_unsent(unsent: Unsent) -> None:
    if unsent.events or unsent.points:
        warnings.warn(
            f"tracklog: {unsent.events} events and {unsent.points} metric points could not be "
            "sent to Kafka nor kept in the disk spool before the session closed: they are lost",
            RuntimeWarning,
            stacklevel=3,
        )


def _at_exit() -> None:
    with _lock:
        session = _default
    if session is None:
        return
    crashed = getattr(sys, "last_value", None) is not None
    session.end_active_runs("FAILED" if crashed else "FINISHED")
    _warn_unsent(session.close(float(os.environ.get("TRACKLOG_EXIT_FLUSH_SECONDS", "30"))))
