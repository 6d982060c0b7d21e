"""QueryService methods for charts, comparison and streamed history (mixed into
`servicer.QueryServicer`, which holds the Postgres pool and the metric store)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from tracklog.query.errors import NotFound, as_query_error, status_code, translate_errors
from tracklog.query.series import buckets as series
from tracklog.query.series import compare, history_stream
from tracklog.query.series import endpoint as series_endpoint
from tracklog.query.series.store import ClickHouseSeriesStore
from tracklog.query.stores import postgres as store_postgres
from tracklog.query.stores.clickhouse import ClickHouseMetricStore
from tracklog.v1 import series_pb2


class SeriesEndpoints:
    _pool: store_postgres.Pool
    _metrics: ClickHouseMetricStore

    @property
    def _series(self) -> ClickHouseSeriesStore:
        return ClickHouseSeriesStore(self._metrics)

    @translate_errors
    def GetMetricSeries(
        self, request: series_pb2.GetMetricSeriesRequest, context: grpc.ServicerContext
    ) -> series_pb2.GetMetricSeriesResponse:
        return series_endpoint.get_metric_series(self._series, series.series_query(request))

    @translate_errors
    def CompareRuns(
        self, request: series_pb2.CompareRunsRequest, context: grpc.ServicerContext
    ) -> series_pb2.CompareRunsResponse:
        return compare.compare_runs(self._pool, self._series, compare.run_ids(request))

    def StreamMetricHistory(
        self, request: series_pb2.StreamMetricHistoryRequest, context: grpc.ServicerContext
    ) -> Iterator[series_pb2.StreamMetricHistoryResponse]:
        try:
            query = history_stream.first_query(request)
            for index, chunk in enumerate(history_stream.chunks(self._metrics, query)):
                if (
                    index == 0
                    and not chunk.steps
                    and not store_postgres.run_exists(self._pool, query.run_id)
                ):
                    raise NotFound(f"run {query.run_id!r} not found")
                yield chunk
        except Exception as error:
            mapped = as_query_error(error)
            if mapped is None:
                raise
            context.abort(status_code(mapped), str(mapped))
