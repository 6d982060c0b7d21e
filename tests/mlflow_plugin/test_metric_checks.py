"""`MetricChecks` answers as MLflow's own metric validation does, with or without its cache."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import _validate_batch_log_data

from tracklog.mlflow.metric_checks import MetricChecks


def _m(key: Any, value: Any, timestamp: Any, step: Any) -> Metric:
    """A metric as a caller may pass it (MLflow's entity does not check its arguments)."""
    return Metric(key, value, timestamp, step)


GOOD = _m("loss", 0.5, 1_700_000_000_000, 3)

BATCHES = {
    "plain": [GOOD, _m("acc", 1, 0, 0)],
    "nan and inf": [_m("x", math.nan, 1, 0), _m("y", -math.inf, 1, 1)],
    "numpy value and step": [_m("loss", np.float32(0.25), 5, np.int64(7))],
    "float timestamp": [_m("loss", 0.5, 12.5, 0)],
    "bad character": [GOOD, _m("a*b", 0.5, 1, 0)],
    "not a unique path": [_m("a/../b", 0.5, 1, 0)],
    "leading slash": [_m("/abs", 0.5, 1, 0)],
    "no value": [GOOD, _m("loss", None, 1, 0)],
    "bool value": [_m("loss", True, 1, 0)],
    "string value": [_m("loss", "0.5", 1, 0)],
    "negative timestamp": [_m("loss", 0.5, -1, 0)],
    "string timestamp": [_m("loss", 0.5, "now", 0)],
    "no step": [_m("loss", 0.5, 1, None)],
    "string step": [_m("loss", 0.5, 1, "3")],
    "no key": [_m(None, 0.5, 1, 0)],
}


def _mlflows_verdict(metrics: list[Metric]) -> str | None:
    try:
        _validate_batch_log_data(metrics, [], [])  # type: ignore[no-untyped-call]
    except MlflowException as error:
        return f"{error.error_code}: {error.message}"
    return None


def _our_verdict(checks: MetricChecks, metrics: list[Metric]) -> str | None:
    try:
        checks.validate(metrics)
    except MlflowException as error:
        return f"{error.error_code}: {error.message}"
    return None


@pytest.mark.parametrize("name", list(BATCHES))
def test_the_same_verdict_as_mlflow_fresh_and_with_every_key_remembered(name: str) -> None:
    metrics = BATCHES[name]
    expected = _mlflows_verdict(metrics)
    assert _our_verdict(MetricChecks(), metrics) == expected
    warm = MetricChecks()
    warm.validate([GOOD, Metric("acc", 1.0, 0, 0), Metric("x", 1.0, 0, 0)])
    assert _our_verdict(warm, metrics) == expected


def test_a_remembered_key_does_not_let_a_bad_value_through() -> None:
    checks = MetricChecks()
    checks.validate([GOOD])
    with pytest.raises(MlflowException) as refused:
        checks.validate([GOOD, GOOD, _m("loss", "high", 1, 0)])
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "metrics[2].value" in refused.value.message
