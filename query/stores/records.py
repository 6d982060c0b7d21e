"""Typed rows read from the stores, and the typed queries sent to them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from tracklog.query.filters.syntax import Expression, OrderKey


@dataclass(frozen=True, slots=True)
class KeyValue:
    """A param or a tag."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class ExperimentRecord:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: datetime
    tags: tuple[KeyValue, ...] = ()


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    experiment_id: str
    run_name: str
    parent_run_id: str
    user_id: str
    status: str  # 'RUNNING', 'FINISHED', ... as stored
    start_time: datetime | None
    end_time: datetime | None
    lifecycle_stage: str
    artifact_uri: str


@dataclass(frozen=True, slots=True)
class LatestMetric:
    key: str
    value: float
    timestamp_ms: int
    step: int


@dataclass(frozen=True, slots=True)
class RunRow:
    """A run as a search page reads it, in one statement: the run, then its params, tags and
    latest metrics as parallel columns sorted by key (no object per pair), and its dataset
    inputs as `[name, digest, source_type, source, schema, profile, context, [[key, value],
    ...]]` in (name, digest, context) order."""

    info: RunRecord
    param_keys: list[str]
    param_values: list[str]
    tag_keys: list[str]
    tag_values: list[str]
    metric_keys: list[str]
    metric_values: list[float]
    metric_timestamps_ms: list[int]
    metric_steps: list[int]
    inputs: list[list[Any]]


@dataclass(frozen=True, slots=True)
class ExperimentCursor:
    """Keyset position in (creation_time, experiment_id) order."""

    creation_time: datetime
    experiment_id: str


@dataclass(frozen=True, slots=True)
class LoggedModelCursor:
    """Keyset position in (creation_time DESC, model_id) order: newest first."""

    creation_time: datetime
    model_id: str


@dataclass(frozen=True, slots=True)
class RunCursor:
    """Keyset position in (start_time NULLS LAST, run_id) order."""

    start_time: datetime | None
    run_id: str


@dataclass(frozen=True, slots=True)
class PointCursor:
    """Keyset position in (step, timestamp_ms, is_nan, value) order; NaN sorts last."""

    step: int
    timestamp_ms: int
    is_nan: bool
    value: float  # 0.0 when is_nan


@dataclass(frozen=True, slots=True)
class RunSearch:
    """SearchRuns, validated: every filter must hold."""

    experiment_ids: tuple[str, ...]
    statuses: tuple[str, ...]  # empty: any status
    param_equals: tuple[KeyValue, ...]
    tag_equals: tuple[KeyValue, ...]
    ascending: bool
    limit: int
    after: RunCursor | None = None  # keyset position (start-time order only)
    filter: Expression | None = None  # the parsed `filter` string
    order_by: tuple[OrderKey, ...] = ()  # empty: start-time order (keyset paging)
    lifecycle_stage: str | None = "active"  # None: active and deleted runs
    offset: int = 0  # rows to skip (paging of order_by searches)


@dataclass(frozen=True, slots=True)
class MetricHistoryQuery:
    run_id: str
    key: str
    limit: int
    after: PointCursor | None = None


@dataclass(frozen=True, slots=True)
class MetricColumns:
    """A page of metric points, column-wise as numpy arrays (as ClickHouse returns them,
    and as `packed_columns` encodes them into a response, with no object per point)."""

    steps: npt.NDArray[np.int64]
    timestamps_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    @staticmethod
    def of(
        steps: Sequence[int], timestamps_ms: Sequence[int], values: Sequence[float]
    ) -> MetricColumns:
        """Columns from Python sequences."""
        return MetricColumns(
            np.asarray(steps, dtype=np.int64),
            np.asarray(timestamps_ms, dtype=np.int64),
            np.asarray(values, dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.steps)
