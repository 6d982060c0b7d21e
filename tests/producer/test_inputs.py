from __future__ import annotations

import math
import sys

import pytest

from tracklog import inputs
from tracklog.entities import Metric, Param, RunTag


def points(*metrics: Metric) -> tuple[list[str], list[float], list[int], list[int]]:
    p = inputs.metric_points(metrics, inputs.MetricKeys())
    return p.keys, p.values, p.steps, p.timestamps_ms


def test_valid_points_become_columns() -> None:
    assert points(Metric("a", 1, 10, 2), Metric("b/c", 0.5, 11, 3)) == (
        ["a", "b/c"],
        [1.0, 0.5],
        [2, 3],
        [10, 11],
    )


def test_nan_kept_and_infinities_clamped() -> None:
    _, values, _, _ = points(
        Metric("a", math.nan, 0, 0), Metric("a", math.inf, 0, 1), Metric("a", -math.inf, 0, 2)
    )
    assert math.isnan(values[0])
    assert values[1:] == [sys.float_info.max, -sys.float_info.max]


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        (Metric("bad key!", 1.0, 0, 0), "invalid metric key"),
        (Metric("", 1.0, 0, 0), "must not be empty"),
        (Metric("../up", 1.0, 0, 0), "relative path"),
        (Metric("a", "nan", 0, 0), "must be a number"),  # type: ignore[arg-type]
        (Metric("a", True, 0, 0), "must be a number"),
        (Metric("a", 10**400, 0, 0), "does not fit"),
        (Metric("a", 1.0, 0, 2**63), "step"),
        (Metric("a", 1.0, 1.5, 0), "timestamp"),  # type: ignore[arg-type]
    ],
)
def test_invalid_points_raise_value_error(metric: Metric, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        points(metric)


def test_key_cache_holds_utf8_sizes_of_valid_keys_only() -> None:
    cache = inputs.MetricKeys()
    p = inputs.metric_points([Metric("é", 1.0, 0, 0), Metric("é", 2.0, 0, 1)], cache)
    assert p.nbytes == 4 and cache.sizes == {"é": 2}
    with pytest.raises(ValueError):
        inputs.metric_points([Metric("no*", 1.0, 0, 0)], cache)
    assert "no*" not in cache.sizes


def test_params_and_tags_are_validated_and_stringified() -> None:
    assert inputs.param_pairs([Param("lr", 0.1)]) == [("lr", "0.1")]
    assert inputs.tag_pairs([RunTag("t", 3)]) == [("t", "3")]
    with pytest.raises(ValueError, match="6000"):
        inputs.param_pairs([Param("p", "x" * 6001)])
    with pytest.raises(ValueError, match="duplicate"):
        inputs.param_pairs([Param("p", 1), Param("p", 2)])
    with pytest.raises(ValueError, match="tag key"):
        inputs.tag_pairs([RunTag("bad key?", "v")])
