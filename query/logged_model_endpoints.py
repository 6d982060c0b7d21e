"""QueryService methods for MLflow 3's logged models (mixed into `servicer.QueryServicer`,
which holds the Postgres pool).

GetLoggedModel: NOT_FOUND naming the id when there is no such model (or it is deleted
and `allow_deleted` is not set). SearchLoggedModels: at least one experiment, at most
`MODELS_PAGE[1]` results a page; a bad filter, order, dataset or page token is
INVALID_ARGUMENT.
"""

from __future__ import annotations

import grpc

from tracklog.query import paging
from tracklog.query.errors import InvalidArgument, NotFound, translate_errors
from tracklog.query.filters.logged_model_order import DatasetFilter, ModelOrder
from tracklog.query.logged_models import get_logged_model, search_logged_models
from tracklog.query.stores import postgres as store_postgres
from tracklog.v1 import logged_models_pb2

MODELS_PAGE = (100, 1000)  # (default, maximum)


class LoggedModelEndpoints:
    _pool: store_postgres.Pool

    @translate_errors
    def GetLoggedModel(
        self, request: logged_models_pb2.GetLoggedModelRequest, context: grpc.ServicerContext
    ) -> logged_models_pb2.GetLoggedModelResponse:
        if not request.model_id.strip():
            raise InvalidArgument("model_id is required")
        model = get_logged_model(self._pool, request.model_id, request.allow_deleted)
        if model is None:
            raise NotFound(f"logged model {request.model_id!r} not found")
        return logged_models_pb2.GetLoggedModelResponse(model=model)

    @translate_errors
    def SearchLoggedModels(
        self, request: logged_models_pb2.SearchLoggedModelsRequest, context: grpc.ServicerContext
    ) -> logged_models_pb2.SearchLoggedModelsResponse:
        if not request.experiment_ids:
            raise InvalidArgument("experiment_ids must name at least one experiment")
        if any(not e for e in request.experiment_ids):
            raise InvalidArgument("experiment_ids must not contain an empty id")
        default, maximum = MODELS_PAGE
        limit = paging.page_size(
            request.max_results, default=default, maximum=maximum, field="max_results"
        )
        orders = [
            ModelOrder(o.field_name, o.descending, o.dataset_name, o.dataset_digest)
            for o in request.order_by
        ]
        datasets = [DatasetFilter(d.dataset_name, d.dataset_digest) for d in request.datasets]
        models, token = search_logged_models(
            self._pool,
            list(request.experiment_ids),
            request.filter,
            limit,
            request.page_token,
            orders,
            datasets,
        )
        return logged_models_pb2.SearchLoggedModelsResponse(models=models, next_page_token=token)
