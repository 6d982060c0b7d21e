"""StreamMetricHistory: the full history of one metric in chunks, by the history reader's
keyset pages (ordered (step, timestamp, value), exact duplicates collapsed)."""

from __future__ import annotations

from collections.abc import Iterator

from tracklog.query.errors import InvalidArgument
from tracklog.query.packed_columns import packed_double, packed_int64
from tracklog.query.stores.clickhouse import ClickHouseMetricStore, last_cursor
from tracklog.query.stores.records import MetricHistoryQuery, PointCursor
from tracklog.v1 import series_pb2

DEFAULT_CHUNK = 50_000
MAX_CHUNK = 100_000


def first_query(request: series_pb2.StreamMetricHistoryRequest) -> MetricHistoryQuery:
    """The validated query for the first chunk."""
    if not request.run_id:
        raise InvalidArgument("run_id is required")
    if not request.metric_key:
        raise InvalidArgument("metric_key is required")
    if not 0 <= request.chunk_size <= MAX_CHUNK:
        raise InvalidArgument(
            f"chunk_size must be between 1 and {MAX_CHUNK}, got {request.chunk_size}"
        )
    return MetricHistoryQuery(
        request.run_id, request.metric_key, request.chunk_size or DEFAULT_CHUNK
    )


def chunks(
    metrics: ClickHouseMetricStore, query: MetricHistoryQuery
) -> Iterator[series_pb2.StreamMetricHistoryResponse]:
    """Every point once, in order; an empty history gives one empty chunk."""
    after: PointCursor | None = None
    while True:
        columns, more = metrics.history(
            MetricHistoryQuery(query.run_id, query.key, query.limit, after)
        )
        chunk = series_pb2.StreamMetricHistoryResponse(metric_key=query.key)
        chunk.MergeFromString(
            packed_int64(chunk.STEPS_FIELD_NUMBER, columns.steps)
            + packed_int64(chunk.TIMESTAMPS_MS_FIELD_NUMBER, columns.timestamps_ms)
            + packed_double(chunk.VALUES_FIELD_NUMBER, columns.values)
        )
        yield chunk
        if not more:
            return
        after = last_cursor(columns)
