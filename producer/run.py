"""The handle `start_run` returns: run metadata and a context manager that ends the run."""

from __future__ import annotations

import getpass
import sys
from types import TracebackType
from typing import Protocol

from tracklog.entities import RunInfo


def user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def source_name() -> str:
    return sys.argv[0] if sys.argv and sys.argv[0] else "<unknown>"


def system_tags(user: str, source: str, run_name: str, parent_run_id: str | None) -> dict[str, str]:
    """MLflow's system tags of a new run."""
    tags = {
        "mlflow.user": user,
        "mlflow.source.name": source,
        "mlflow.source.type": "LOCAL",
        "mlflow.runName": run_name,
    }
    if parent_run_id is not None:
        tags["mlflow.parentRunId"] = parent_run_id
    return tags


class _RunEnder(Protocol):
    def end_run_by_id(self, run_id: str, status: str = "FINISHED") -> None: ...


class ActiveRun:
    """A started run. ``with`` ends it FINISHED, FAILED when an exception escapes
    (KILLED for KeyboardInterrupt, as MLflow does); the exception is re-raised."""

    __slots__ = ("_session", "info")

    def __init__(self, info: RunInfo, session: _RunEnder) -> None:
        self.info = info
        self._session = session

    @property
    def run_id(self) -> str:
        return self.info.run_id

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            status = "FINISHED"
        elif issubclass(exc_type, KeyboardInterrupt):
            status = "KILLED"
        else:
            status = "FAILED"
        self._session.end_run_by_id(self.info.run_id, status)

    def __repr__(self) -> str:
        return f"<ActiveRun run_id={self.info.run_id!r} name={self.info.run_name!r}>"
