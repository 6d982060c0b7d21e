"""A chunk of metric points as one block of ClickHouse's Native format, built with numpy
(no Python object per point), for `client.raw_insert(..., fmt="Native")`.

The rows are put in the table's order first, by (run_id, key) with a stable sort (points
of one key of one run keep their log order, in which steps normally grow): ClickHouse
checks whether an inserted block is already sorted by the table's ORDER BY and then
skips its own sort, the largest part of an insert's cost. A block that is not fully
sorted (steps logged out of order) is still correct: ClickHouse sorts it.

Native format (ClickHouse's Formats/NativeWriter): the column and row counts as varints,
then per column its name and type (strings: varint length, bytes) and its data: fixed
width numbers little-endian; LowCardinality(String) as the serialization version (UInt64
1), then the index width and flags (UInt64), the dictionary (a count, then each string as
a varint length and its bytes) and one index per row. A column sent with another type
than the table's (run_id: LowCardinality(String) into String) is converted by ClickHouse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tracklog.contract.wire import varint
from tracklog.ingest.projectors.clickhouse import MetricPoints

LOW_CARDINALITY_VERSION = 1  # SharedDictionariesWithAdditionalKeys
HAS_ADDITIONAL_KEYS = 1 << 9
NEED_UPDATE_DICTIONARY = 1 << 10


def metric_points_block(chunk: Sequence[MetricPoints]) -> bytearray:
    """One Native block holding the rows of every record in ``chunk``, sorted by
    (run_id, key); columns named and typed as metric_points'. Each column is gathered
    straight into the block's buffer (one copy from the records' arrays)."""
    runs = sorted({points.run_id for points in chunk})
    keys = sorted({name for points in chunk for name in points.columns.names})
    topics = sorted({points.topic for points in chunk})
    run_rank = {run: i for i, run in enumerate(runs)}
    key_rank = {key: i for i, key in enumerate(keys)}
    topic_rank = {topic: i for i, topic in enumerate(topics)}
    lengths = np.array([len(points) for points in chunk], dtype=np.int64)

    def per_record(values: list[int], dtype: str) -> npt.NDArray[Any]:
        return np.repeat(np.array(values, dtype=dtype), lengths)

    run = per_record([run_rank[p.run_id] for p in chunk], "<i8")
    key = np.concatenate(
        [
            np.array([key_rank[n] for n in p.columns.names], dtype="<i8")[p.columns.codes]
            for p in chunk
        ]
    )
    order = _table_order(run * len(keys) + key)
    rows = int(lengths.sum())
    block = _Block(rows, order)
    block.low_cardinality("run_id", runs, run)
    block.low_cardinality("key", keys, key)
    block.numbers("step", [p.columns.steps for p in chunk], "<i8")
    block.numbers("timestamp_ms", [p.columns.timestamps_ms for p in chunk], "<i8")
    block.numbers("value", [p.columns.values for p in chunk], "<f8")
    block.low_cardinality("topic", topics, per_record([topic_rank[p.topic] for p in chunk], "<i8"))
    block.numbers("partition", [per_record([p.partition for p in chunk], "<u2")], "<u2")
    block.numbers("offset", [per_record([p.offset for p in chunk], "<u8")], "<u8")
    return block.build()


class _Block:
    """Columns added in order, then written once into one buffer (`build`)."""

    def __init__(self, rows: int, order: npt.NDArray[np.intp] | None) -> None:
        self._rows = rows
        self._order = order
        # (size in bytes, writes them into a view of that size)
        self._parts: list[tuple[int, Callable[[npt.NDArray[np.uint8]], None]]] = []
        self._bytes(varint(len(COLUMNS)) + varint(rows))

    def numbers(self, name: str, arrays: list[npt.NDArray[Any]], dtype: str) -> None:
        self._header(name)
        order = self._order

        def write(view: npt.NDArray[np.uint8]) -> None:
            out = view.view(dtype)
            if order is None:
                np.concatenate(arrays, out=out, casting="same_kind")
            else:
                values = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
                np.take(values.astype(dtype, copy=False), order, out=out)

        self._parts.append((self._rows * np.dtype(dtype).itemsize, write))

    def low_cardinality(
        self, name: str, dictionary: Sequence[str], indexes: npt.NDArray[Any]
    ) -> None:
        self._header(name)
        size = len(dictionary)
        width = next(w for w in range(4) if size <= 1 << (8 << w))
        flags = width | HAS_ADDITIONAL_KEYS | NEED_UPDATE_DICTIONARY
        head = [_uint64(LOW_CARDINALITY_VERSION), _uint64(flags)]
        head += [_uint64(size), *(_string(value) for value in dictionary), _uint64(self._rows)]
        self._bytes(b"".join(head))
        self.numbers_of(indexes, ("<u1", "<u2", "<u4", "<u8")[width])

    def numbers_of(self, values: npt.NDArray[Any], dtype: str) -> None:
        """Data without a column header (a LowCardinality column's indexes)."""
        order = self._order

        def write(view: npt.NDArray[np.uint8]) -> None:
            out = view.view(dtype)
            if order is None:
                out[:] = values
            else:
                np.take(values.astype(dtype), order, out=out)

        self._parts.append((self._rows * np.dtype(dtype).itemsize, write))

    def build(self) -> bytearray:
        buffer = bytearray(sum(size for size, _ in self._parts))
        view = np.frombuffer(buffer, dtype=np.uint8)
        at = 0
        for size, write in self._parts:
            write(view[at : at + size])
            at += size
        return buffer

    def _header(self, name: str) -> None:
        self._bytes(_string(name) + _string(dict(COLUMNS)[name]))

    def _bytes(self, data: bytes) -> None:
        def write(view: npt.NDArray[np.uint8]) -> None:
            view[:] = np.frombuffer(data, dtype=np.uint8)

        self._parts.append((len(data), write))


COLUMNS = (
    # metric_points.run_id is a String: sent as LowCardinality (a dictionary of the chunk's
    # few runs and one index per row, half the bytes), ClickHouse converts it on insert
    ("run_id", "LowCardinality(String)"),
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


def _uint64(value: int) -> bytes:
    return value.to_bytes(8, "little")


def _string(value: str) -> bytes:
    data = value.encode()
    return varint(len(data)) + data
