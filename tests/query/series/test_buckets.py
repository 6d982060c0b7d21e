"""GetMetricSeries' pure part: validation and bucket math."""

from __future__ import annotations

import numpy as np
import pytest

from tracklog.query.errors import InvalidArgument
from tracklog.query.series import buckets as series
from tracklog.v1 import series_pb2


def _request(**fields: object) -> series_pb2.GetMetricSeriesRequest:
    base: dict[str, object] = {"run_ids": ["r1"], "metric_keys": ["loss"]}
    return series_pb2.GetMetricSeriesRequest(**(base | fields))  # type: ignore[arg-type]


def test_defaults_and_distinct_ids_in_order() -> None:
    query = series.series_query(_request(run_ids=["b", "a", "b"], metric_keys=["x", "x"]))
    assert query.run_ids == ("b", "a") and query.keys == ("x",)
    assert (query.max_points, query.mode, query.axis) == (1000, "lttb", "step")
    assert query.pairs == [("b", "x"), ("a", "x")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"run_ids": []}, "run_ids must name at least one run"),
        ({"run_ids": [f"r{i}" for i in range(1001)]}, "at most 1000 runs"),
        ({"metric_keys": []}, "metric_keys must name at least one metric"),
        ({"max_points": 10_001}, "max_points must be between"),
        ({"max_points": 2}, "max_points must be between"),
        ({"min_step": 5, "max_step": 4}, "min_step (5) must not exceed max_step (4)"),
        ({"run_ids": [""]}, "must not contain an empty"),
    ],
)
def test_invalid_requests_name_the_problem(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
        series.series_query(_request(**fields))


def test_bucket_of_clamps_and_is_monotone() -> None:
    x = np.array([0.0, 1.0, 49.0, 50.0, 99.0])
    assert series.bucket_of(x, 0.0, 99.0, 10).tolist() == [0, 0, 4, 5, 9]
