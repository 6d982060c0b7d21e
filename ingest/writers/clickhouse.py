"""Step 5 (ingest/steps/write_clickhouse.py): insert metric points into ClickHouse,
skipping what is already stored.

ClickHouse has no multi-statement transactions, so each row carries the Kafka
(topic, partition, offset) it came from (snuba's way). The writer keeps, per
partition, the highest offset stored (its high-water mark), read when the partition
is first seen or (re)assigned; records at or below it are skipped. One node: read
from metric_points. A cluster (Settings.clickhouse_cluster): read from every
replica's metric_points_local (`clickhouse_schema.stored_points_source`), since the
Distributed table asks one replica per shard, which may lag behind the one that
took an insert and under-report (docs/operations.md, "ClickHouse on a cluster").
Each insert is one Native block built with numpy (ingest/writers/native_block.py).
Batches arrive in offset order per partition and each insert is one block (at most
MAX_INSERT_ROWS rows, below ClickHouse's min_insert_block_size_rows, so it lands as
one part or not at all): after a crash, the table holds every record up to its max
offset and none above, and the replay inserts exactly the missing records. (On a
cluster an insert is one block per shard, and a partition lives on one shard.)

Limit (shared with snuba): a zombie worker still inserting for a partition that
was reassigned can race the new owner's high-water read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from tracklog.contract.read_model.clickhouse_schema import (
    METRIC_POINTS,
    migrate,
    stored_points_source,
)
from tracklog.contract.topics import Partition
from tracklog.ingest.projectors.clickhouse import COLUMN_NAMES, MetricPoints
from tracklog.ingest.records import Position
from tracklog.ingest.writers.native_block import metric_points_block

log = logging.getLogger(__name__)

MAX_INSERT_ROWS = 500_000
NOTHING_STORED = -1


class ClickHouseWriter:
    def __init__(self, client: Any, database: str, cluster: str = "") -> None:
        """`cluster` names the ClickHouse cluster the tables are spread over ("" = one node)."""
        self._client = client
        self.database = database
        self.cluster = cluster
        self._stored_points = stored_points_source(database, cluster)
        self._high: dict[Partition, int] = {}

    def migrate(self) -> None:
        migrate(self._client, self.database, self.cluster)

    def load(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """(Re)read the highest stored offset of each partition (-1 when none)."""
        wanted = set(partitions)
        for topic in sorted({t for t, _ in wanted}):
            result = self._client.query(
                f"SELECT partition, max(offset) FROM {self._stored_points}"
                " WHERE topic = {topic:String} GROUP BY partition",
                parameters={"topic": topic},
            )
            stored = {int(p): int(o) for p, o in result.result_rows}
            for t, p in wanted:
                if t == topic:
                    self._high[(t, p)] = stored.get(p, NOTHING_STORED)
        return {tp: self._high[tp] for tp in wanted}

    def forget(self, partitions: Iterable[Partition]) -> None:
        """Drop the high-water marks of partitions this worker no longer owns."""
        for tp in partitions:
            self._high.pop(tp, None)

    def high_water(self, partition: Partition) -> int:
        if partition not in self._high:
            self.load([partition])
        return self._high[partition]

    def write(self, batch: Sequence[tuple[Position, MetricPoints]]) -> int:
        """Insert the points of records not stored yet; return the number of rows inserted."""
        todo = [
            (position, points)
            for position, points in sorted(batch, key=lambda item: item[0])
            if position.offset > self.high_water((position.log, position.partition))
        ]
        written = 0
        chunk: list[tuple[Position, MetricPoints]] = []
        rows = 0
        for position, points in todo:
            if chunk and rows + len(points) > MAX_INSERT_ROWS:
                written += self._insert(chunk)
                chunk, rows = [], 0
            chunk.append((position, points))
            rows += len(points)
        if chunk:
            written += self._insert(chunk)
        return written

    def _insert(self, chunk: list[tuple[Position, MetricPoints]]) -> int:
        rows = sum(len(points) for _, points in chunk)
        if rows:
            self._client.raw_insert(
                f"{self.database}.{METRIC_POINTS}",
                list(COLUMN_NAMES),
                metric_points_block([points for _, points in chunk]),
                fmt="Native",
            )
        for position, _ in chunk:  # only after the insert succeeded
            tp = (position.log, position.partition)
            self._high[tp] = max(self._high[tp], position.offset)
        return rows
