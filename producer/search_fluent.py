"""`tracklog.search_runs`: MLflow's fluent search, against the query service at
``TRACKLOG_QUERY_ADDR`` (default `Settings.query_addr`)."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from tracklog.client_search import (
    DataFrame,
    OutputFormat,
    PagedRuns,
    ViewType,
    experiment_id_list,
    runs_as,
    search_pages,
)
from tracklog.ids import DEFAULT_EXPERIMENT_NAME, experiment_id_for
from tracklog.settings import Settings
from tracklog.v1 import query_pb2, query_pb2_grpc

LOOKUP_TIMEOUT_SECONDS = 10.0


def query_address() -> str:
    return Settings.from_env().query_addr


def _experiment_ids_of(stub: query_pb2_grpc.QueryServiceStub, names: Sequence[str]) -> list[str]:
    """The ids of the named experiments; names nobody holds are skipped (as MLflow)."""
    ids = []
    for name in names:
        try:
            reply = stub.GetExperiment(
                query_pb2.GetExperimentRequest(name=name), timeout=LOOKUP_TIMEOUT_SECONDS
            )
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:  # type: ignore[attr-defined]
                continue
            raise
        ids.append(reply.experiment.experiment_id)
    return ids


def _all_experiment_ids(stub: query_pb2_grpc.QueryServiceStub) -> list[str]:
    ids, token = [], ""
    while True:
        reply = stub.ListExperiments(
            query_pb2.ListExperimentsRequest(page_size=1000, page_token=token),
            timeout=LOOKUP_TIMEOUT_SECONDS,
        )
        ids += [e.experiment_id for e in reply.experiments]
        token = reply.next_page_token
        if not token:
            return ids


def search_runs(
    experiment_ids: str | Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = 100_000,
    order_by: Sequence[str] | None = None,
    output_format: OutputFormat = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
    *,
    current_experiment_id: str | None = None,
    address: str | None = None,
) -> DataFrame | PagedRuns:
    """Runs matching `filter_string` as a DataFrame (or a list); see `mlflow.search_runs`.

    Without `experiment_ids` or `experiment_names`, searches the current experiment
    (the default one when none was set), or every experiment with
    `search_all_experiments=True`. All matching runs up to `max_results` (None: no
    limit) are fetched, page after page.
    """
    with grpc.insecure_channel(address or query_address()) as channel:
        stub = query_pb2_grpc.QueryServiceStub(channel)
        ids = [] if experiment_ids is None else experiment_id_list(experiment_ids)
        if experiment_names:
            ids += _experiment_ids_of(stub, experiment_names)
        if experiment_ids is None and not experiment_names:
            if search_all_experiments:
                ids = _all_experiment_ids(stub)
            else:
                ids = [current_experiment_id or experiment_id_for(DEFAULT_EXPERIMENT_NAME)]
        messages: list[query_pb2.Run] = []
        token = None
        if ids:
            messages, token = search_pages(
                stub, ids, filter_string, run_view_type, max_results, order_by, None
            )
        return runs_as(messages, token, output_format)
