from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from tracklog import inputs
from tracklog.entities import Metric, Param, RunTag
from tracklog.sending.batcher import Points


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


def test_one_point_is_metric_points_of_one_metric() -> None:
    cache = inputs.MetricKeys()
    p = inputs.one_point("é", np.float64(0.5), np.int64(3), 7, cache)  # type: ignore[arg-type]
    assert (p.keys, p.values, p.steps, p.timestamps_ms, p.nbytes) == (["é"], [0.5], [3], [7], 2)
    assert [type(p.values[0]), type(p.steps[0])] == [float, int]
    assert inputs.one_point("a", math.inf, 0, 0, cache).values == [sys.float_info.max]
    for args, message in [
        (("bad key!", 1.0, 0, 0), "invalid metric key"),
        (("a", True, 0, 0), "must be a number"),
        (("a", 1.0, 2**63, 0), "step of metric 'a'"),
        (("a", 1.0, 0, 1.5), "timestamp of metric 'a'"),
    ]:
        with pytest.raises(ValueError, match=message):
            inputs.one_point(*args, cache)  # type: ignore[arg-type]


def columns(p: Points) -> tuple[object, ...]:
    return p.keys, p.values, p.steps, p.timestamps_ms, p.nbytes


@pytest.mark.parametrize(
    "values",
    [
        {"a": 1.0, "b/c": 0.5},
        {"a": np.float64(1.5), "b/c": 2},  # numpy floats and ints become plain floats
        {"a": math.nan, "b/c": -math.inf},  # NaN kept, infinities clamped
        {"a": sys.float_info.max, "b/c": sys.float_info.max},  # their sum overflows
        {"a": np.float32(0.25), "b/c": 1.0},
    ],
)
def test_mapping_points_equal_metric_points_whether_the_key_set_is_known_or_not(
    values: dict[str, float],
) -> None:
    cache = inputs.MetricKeys()
    expected = inputs.metric_points([Metric(k, v, 9, 4) for k, v in values.items()], cache)
    first = inputs.mapping_points(values, 4, 9, cache)  # learns the key set
    assert ("a", "b/c") in cache.key_sets
    again = inputs.mapping_points(values, np.int64(4), 9, cache)  # type: ignore[arg-type]
    for p in (first, again):
        assert repr(columns(p)) == repr(columns(expected))  # repr: NaN == NaN
        assert {type(v) for v in p.values} == {float} and type(p.steps[0]) is int


@pytest.mark.parametrize(
    ("values", "step", "timestamp", "message"),
    [
        ({"ok": 1.0, "bad": "x"}, 0, 0, "value of metric 'bad' must be a number"),
        ({"ok": True, "bad": 1.0}, 0, 0, "value of metric 'ok' must be a number"),
        ({"ok": 1.0, "bad": 10**400}, 0, 0, "value of metric 'bad' does not fit"),
        ({"ok": 1.0, "bad": 1.0}, True, 0, "step of metric 'ok' must be an integer"),
        ({"ok": 1.0, "bad": 1.0}, 0, -(2**64), "timestamp of metric 'ok'"),
    ],
)
def test_mapping_points_of_a_known_key_set_still_refuse_what_metric_points_refuses(
    values: dict[str, object], step: int, timestamp: int, message: str
) -> None:
    cache = inputs.MetricKeys()
    inputs.mapping_points({"ok": 1.0, "bad": 1.0}, 0, 0, cache)
    with pytest.raises(ValueError, match=message):
        inputs.mapping_points(values, step, timestamp, cache)  # type: ignore[arg-type]


def test_a_key_set_is_cached_only_when_valid_and_within_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = inputs.MetricKeys()
    with pytest.raises(ValueError, match="invalid metric key"):
        inputs.mapping_points({"ok": 1.0, "no*": 1.0}, 0, 0, cache)
    assert cache.key_sets == {}
    monkeypatch.setattr(inputs, "MAX_CACHED_KEY_SET_KEYS", 3)
    inputs.mapping_points({"a": 1.0, "b": 1.0}, 0, 0, cache)
    inputs.mapping_points({"c": 1.0, "d": 1.0}, 0, 0, cache)  # would hold 4 keys: not kept
    assert list(cache.key_sets) == [("a", "b")]
    assert inputs.mapping_points({"c": 1.0, "d": 2.0}, 0, 0, cache).values == [1.0, 2.0]


class _LooksLikeAKey:
    """Equal to (and hashed as) a valid key without being a string."""

    def __eq__(self, other: object) -> bool:
        return other == "a"

    def __hash__(self) -> int:
        return hash("a")


def test_the_columns_hold_the_validated_keys_not_objects_equal_to_them() -> None:
    cache = inputs.MetricKeys()
    inputs.mapping_points({"a": 1.0}, 0, 0, cache)
    p = inputs.mapping_points({_LooksLikeAKey(): 2.0}, 0, 0, cache)  # type: ignore[dict-item]
    assert p.keys == ["a"] and type(p.keys[0]) is str
    with pytest.raises(ValueError, match="metric key must be a string"):
        inputs.one_point(_LooksLikeAKey(), 1.0, 0, 0, cache)  # type: ignore[arg-type]
