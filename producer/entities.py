"""The values callers hand to `log_batch`, named and ordered as in MLflow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Metric(NamedTuple):
    """One metric point; timestamp in Unix epoch milliseconds."""

    key: str
    value: float
    timestamp: int
    step: int


class Param(NamedTuple):
    """A run parameter; the value is stored as ``str(value)``."""

    key: str
    value: object


class RunTag(NamedTuple):
    """A run tag; the value is stored as ``str(value)``."""

    key: str
    value: object


@dataclass(frozen=True, slots=True)
class Experiment:
    experiment_id: str
    name: str


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    parent_run_id: str | None
    start_time_ms: int
    user_id: str


@dataclass(frozen=True, slots=True)
class Unsent:
    """What `Session.close` could not get acknowledged: other events and metric points."""

    events: int
    points: int
