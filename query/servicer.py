"""The QueryService servicer: parse the request, call a store, convert the result.

All validation is in `requests`, all SQL in the stores, all message building in
`convert`, and all error-to-status mapping in `errors.translate_errors`. The series
and logged-model calls are mixed in (`series_servicer`, `logged_model_endpoints`).
"""

from __future__ import annotations

import grpc

from tracklog.query import convert, paging, requests, tracking_endpoints
from tracklog.query.errors import NotFound, translate_errors
from tracklog.query.logged_model_endpoints import LoggedModelEndpoints
from tracklog.query.logged_models import run_models
from tracklog.query.series.servicer import SeriesEndpoints
from tracklog.query.stores import postgres as store_postgres
from tracklog.query.stores import run_rows
from tracklog.query.stores import search as store_search
from tracklog.query.stores.clickhouse import ClickHouseMetricStore, last_cursor
from tracklog.query.stores.records import ExperimentCursor, RunCursor
from tracklog.v1 import query_pb2, query_pb2_grpc, tracking_pb2


class QueryServicer(SeriesEndpoints, LoggedModelEndpoints, query_pb2_grpc.QueryServiceServicer):
    def __init__(
        self, pool: store_postgres.Pool, metrics: ClickHouseMetricStore, artifact_root: str = ""
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._info = tracking_endpoints.service_info(artifact_root)

    @translate_errors
    def GetExperiment(
        self, request: query_pb2.GetExperimentRequest, context: grpc.ServicerContext
    ) -> query_pb2.GetExperimentResponse:
        selector = requests.experiment_selector(request)
        record = store_postgres.get_experiment(
            self._pool, experiment_id=selector.experiment_id, name=selector.name
        )
        return query_pb2.GetExperimentResponse(experiment=convert.experiment(record))

    @translate_errors
    def ListExperiments(
        self, request: query_pb2.ListExperimentsRequest, context: grpc.ServicerContext
    ) -> query_pb2.ListExperimentsResponse:
        page = requests.experiment_page(request)
        records, more = store_postgres.list_experiments(self._pool, page.limit, page.after)
        token = ""
        if more:
            last = records[-1]
            token = paging.experiment_token(
                ExperimentCursor(last.creation_time, last.experiment_id)
            )
        return query_pb2.ListExperimentsResponse(
            experiments=[convert.experiment(r) for r in records], next_page_token=token
        )

    @translate_errors
    def GetRun(
        self, request: query_pb2.GetRunRequest, context: grpc.ServicerContext
    ) -> query_pb2.GetRunResponse:
        row = run_rows.get_run(self._pool, requests.run_id(request))
        run = query_pb2.Run()
        convert.fill_run(run, row)  # with its dataset inputs
        outputs, model_inputs = run_models(self._pool, row.info.run_id)
        run.outputs.extend(outputs)
        run.model_inputs.extend(model_inputs)
        return query_pb2.GetRunResponse(run=run)

    @translate_errors
    def SearchRuns(
        self, request: query_pb2.SearchRunsRequest, context: grpc.ServicerContext
    ) -> query_pb2.SearchRunsResponse:
        search, scope = requests.run_search(request)
        # one statement: the page's runs with their details and dataset inputs (as GetRun
        # and MLflow's own stores give them)
        runs, more = store_search.search_runs(self._pool, search)
        token = ""
        if more and search.order_by:
            token = paging.run_offset_token(search.offset + len(runs), scope)
        elif more:
            last = runs[-1].info
            token = paging.run_token(RunCursor(last.start_time, last.run_id), scope)
        return convert.search_runs(runs, token)

    @translate_errors
    def GetMetricHistory(
        self, request: query_pb2.GetMetricHistoryRequest, context: grpc.ServicerContext
    ) -> query_pb2.GetMetricHistoryResponse:
        query, scope = requests.metric_history(request)
        columns, more = self._metrics.history(query)
        if (
            not columns
            and query.after is None
            and not store_postgres.run_exists(self._pool, query.run_id)
        ):
            raise NotFound(f"run {query.run_id!r} not found")
        token = paging.point_token(last_cursor(columns), scope) if more else ""
        return convert.metric_history(query.key, columns, token, request.columnar)

    @translate_errors
    def SearchExperiments(
        self, request: query_pb2.SearchExperimentsRequest, context: grpc.ServicerContext
    ) -> query_pb2.SearchExperimentsResponse:
        return tracking_endpoints.search_experiments(self._pool, request)

    @translate_errors
    def SearchDatasets(
        self, request: query_pb2.SearchDatasetsRequest, context: grpc.ServicerContext
    ) -> query_pb2.SearchDatasetsResponse:
        return tracking_endpoints.search_datasets(self._pool, request)

    @translate_errors
    def WaitFor(
        self, request: tracking_pb2.WaitForRequest, context: grpc.ServicerContext
    ) -> tracking_pb2.WaitForResponse:
        return tracking_endpoints.wait_for(self._pool, request, context.is_active)

    @translate_errors
    def GetServiceInfo(
        self, request: tracking_pb2.GetServiceInfoRequest, context: grpc.ServicerContext
    ) -> tracking_pb2.GetServiceInfoResponse:
        return self._info
