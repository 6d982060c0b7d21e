"""Packed fields built with numpy (tracklog.query.packed_columns) are byte for byte what
protobuf itself writes for the same columns."""

from __future__ import annotations

import math

import numpy as np

from tracklog.query.packed_columns import packed_double, packed_int64
from tracklog.v1 import series_pb2

INT64_EXTREMES = [0, 1, 127, 128, 16_383, 16_384, 2**31, 2**53 + 1, 2**63 - 1, -1, -(2**63)]


def test_columns_encode_as_protobuf_encodes_them() -> None:
    steps = [*INT64_EXTREMES, *range(-300, 300, 7)]
    stamps = [1_700_000_000_000 + 10 * i for i in range(len(steps))]
    values = [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.5] * (len(steps) // 7 + 1)
    values = values[: len(steps)]
    expected = series_pb2.StreamMetricHistoryResponse(
        steps=steps, timestamps_ms=stamps, values=values
    )
    wire = (
        packed_int64(2, np.array(steps, dtype=np.int64))
        + packed_int64(3, np.array(stamps, dtype=np.int64))
        + packed_double(4, np.array(values, dtype=np.float64))
    )
    assert wire == expected.SerializeToString()
    parsed = series_pb2.StreamMetricHistoryResponse.FromString(wire)
    assert list(parsed.steps) == steps and list(parsed.timestamps_ms) == stamps


def test_an_empty_column_is_no_field_and_strided_columns_are_copied_in_order() -> None:
    assert packed_int64(2, np.array([], dtype=np.int64)) == b""
    assert packed_double(4, np.array([], dtype=np.float64)) == b""
    rows = np.array([(1, 2.5), (-2, 3.5), (3, 4.5)], dtype=[("step", "<i8"), ("value", "<f8")])
    chunk = series_pb2.StreamMetricHistoryResponse()
    chunk.MergeFromString(packed_int64(2, rows["step"]) + packed_double(4, rows["value"]))
    assert list(chunk.steps) == [1, -2, 3] and list(chunk.values) == [2.5, 3.5, 4.5]
