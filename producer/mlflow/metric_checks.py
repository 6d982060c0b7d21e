"""MLflow's metric validation, without paying for it on every point.

MLflow's stores check each metric of a batch (`_validate_metric`: the key's characters and
path, a number for the value, a non-negative number for the timestamp, a number for the
step); on a 1,000-metric batch that cost more than the rest of the store's work. A key's
verdict never changes, so a key MLflow accepted once is remembered: a metric whose key was
accepted and whose value is a float or an int (not a bool), timestamp a non-negative int
and step an int passes without MLflow's check. Any other metric goes through MLflow's own
check, which raises its own error (with the metric's index in the batch) or accepts it.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlflow.entities import Metric
from mlflow.utils.validation import _validate_metric

MAX_KEYS = 100_000


class MetricChecks:
    def __init__(self) -> None:
        self._accepted: set[str] = set()  # keys MLflow's check accepted

    def validate(self, metrics: Sequence[Metric]) -> None:
        accepted = self._accepted
        for index, metric in enumerate(metrics):
            key, value, timestamp, step = metric.key, metric.value, metric.timestamp, metric.step
            if (
                type(key) is str
                and key in accepted
                and (type(value) is float or type(value) is int)
                and type(timestamp) is int
                and timestamp >= 0
                and type(step) is int
            ):
                continue
            _validate_metric(key, value, timestamp, step, path=f"metrics[{index}]")
            if type(key) is str and len(accepted) < MAX_KEYS:
                accepted.add(key)
