"""The values callers hand to `log_batch`, named and ordered as in MLflow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    """An experiment; the fields after `name` are filled when read from the query service."""

    experiment_id: str
    name: str
    artifact_location: str = ""
    lifecycle_stage: str = "active"
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)
    creation_time: int | None = None  # Unix epoch milliseconds


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    parent_run_id: str | None
    start_time_ms: int
    user_id: str
    # filled when read from the query service
    status: str = "RUNNING"
    end_time_ms: int | None = None
    lifecycle_stage: str = "active"
    artifact_uri: str = ""

    @property
    def start_time(self) -> int:
        """MLflow's name: Unix epoch milliseconds."""
        return self.start_time_ms

    @property
    def end_time(self) -> int | None:
        return self.end_time_ms


@dataclass(frozen=True, slots=True)
class Unsent:
    """What `Session.close` leaves behind unsent, other events and metric points: not
    acknowledged by Kafka and not kept in the disk spool (which reports its own)."""

    events: int
    points: int
