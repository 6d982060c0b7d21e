"""A chunk of metric points as one block of ClickHouse's Native format, built with numpy
(no Python object per point), for `client.raw_insert(..., fmt="Native")`.

The rows are put in the table's order first, by (run_id, key) with a stable sort (points
of one key of one run keep their log order, in which steps normally grow): ClickHouse
checks whether an inserted block is already sorted by the table's ORDER BY and then
skips its own sort, the largest part of an insert's cost. A block that is not fully
sorted (steps logged out of order) is still correct: ClickHouse sorts it.

Native format (ClickHouse's Formats/NativeWriter): the column and row counts as varints,
then per column its name and type (strings: varint length, bytes) and its data: fixed
width numbers little-endian; String as a varint length and the bytes per row;
LowCardinality(String) as the serialization version (UInt64 1), then the index width
and flags (UInt64), the dictionary (a count and Strings) and one index per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tracklog.ingest.projectors.clickhouse import MetricPoints

LOW_CARDINALITY_VERSION = 1  # SharedDictionariesWithAdditionalKeys
HAS_ADDITIONAL_KEYS = 1 << 9
NEED_UPDATE_DICTIONARY = 1 << 10


def metric_points_block(chunk: Sequence[MetricPoints]) -> bytes:
    """One Native block holding the rows of every record in ``chunk``, sorted by
    (run_id, key); columns named and typed as metric_points'."""
    runs = sorted({points.run_id for points in chunk})
    keys = sorted({name for points in chunk for name in points.columns.names})
    topics = sorted({points.topic for points in chunk})
    run_rank = {run: i for i, run in enumerate(runs)}
    key_rank = {key: i for i, key in enumerate(keys)}
    topic_rank = {topic: i for i, topic in enumerate(topics)}
    lengths = np.array([len(points) for points in chunk], dtype=np.int64)

    def per_record(values: list[int], dtype: type[np.generic]) -> npt.NDArray[np.generic]:
        return np.repeat(np.array(values, dtype=dtype), lengths)

    run = per_record([run_rank[p.run_id] for p in chunk], np.int64)
    key = np.concatenate(
        [
            np.array([key_rank[name] for name in p.columns.names], dtype=np.int64)[p.columns.codes]
            for p in chunk
        ]
    )
    order = _table_order(run * len(keys) + key)

    def column(arrays: list[npt.NDArray[np.generic]], dtype: str) -> bytes:
        values = np.concatenate(arrays)
        return (values if order is None else values[order]).astype(dtype, copy=False).tobytes()

    def ordered(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return values if order is None else values[order]

    rows = int(lengths.sum())
    out = [_varint(len(COLUMNS)), _varint(rows)]
    parts = {
        "run_id": _strings(runs, np.bincount(run, minlength=len(runs))),
        "key": _low_cardinality(keys, ordered(key)),
        "step": column([p.columns.steps for p in chunk], "<i8"),
        "timestamp_ms": column([p.columns.timestamps_ms for p in chunk], "<i8"),
        "value": column([p.columns.values for p in chunk], "<f8"),
        "topic": _low_cardinality(
            topics, ordered(per_record([topic_rank[p.topic] for p in chunk], np.int64))
        ),
        "partition": ordered(per_record([p.partition for p in chunk], np.uint16))
        .astype("<u2")
        .tobytes(),
        "offset": ordered(per_record([p.offset for p in chunk], np.uint64)).astype("<u8").tobytes(),
    }
    for name, type_name in COLUMNS:
        out += [_string(name), _string(type_name), parts[name]]
    return b"".join(out)


COLUMNS = (
    ("run_id", "String"),
    ("key", "LowCardinality(String)"),
    ("step", "Int64"),
    ("timestamp_ms", "Int64"),
    ("value", "Float64"),
    ("topic", "LowCardinality(String)"),
    ("partition", "UInt16"),
    ("offset", "UInt64"),
)


def _table_order(group: npt.NDArray[np.int64]) -> npt.NDArray[np.intp] | None:
    """The stable permutation sorting rows by group; None when they are sorted already."""
    if len(group) < 2 or bool(np.all(group[1:] >= group[:-1])):
        return None
    if int(group.max()) < 1 << 16:  # numpy sorts 16-bit integers by radix: linear
        return np.argsort(group.astype(np.uint16), kind="stable")
    return np.argsort(group, kind="stable")


def _strings(values: Sequence[str], counts: npt.NDArray[np.int64]) -> bytes:
    """A String column of ``counts[i]`` copies of ``values[i]``, in order."""
    return b"".join(
        _string(value) * int(count) for value, count in zip(values, counts, strict=True)
    )


def _low_cardinality(dictionary: Sequence[str], indexes: npt.NDArray[Any]) -> bytes:
    size = len(dictionary)
    width, dtype = next(
        (w, t) for w, t in enumerate(("<u1", "<u2", "<u4", "<u8")) if size <= 1 << (8 << w)
    )
    flags = width | HAS_ADDITIONAL_KEYS | NEED_UPDATE_DICTIONARY
    return b"".join(
        [
            _uint64(LOW_CARDINALITY_VERSION),
            _uint64(flags),
            _uint64(size),
            *(_string(value) for value in dictionary),
            _uint64(len(indexes)),
            indexes.astype(dtype).tobytes(),
        ]
    )


def _uint64(value: int) -> bytes:
    return value.to_bytes(8, "little")


def _string(value: str) -> bytes:
    data = value.encode()
    return _varint(len(data)) + data


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
