"""The search part of `TracklogClient`: `search_runs` with MLflow's names and filter language.

`search_runs` pages through the query service's SearchRuns until `max_results`
runs (None: all of them) and returns them as a list of `Run` with the token of
the next page (MLflow's PagedList), or as a pandas DataFrame shaped like
`mlflow.search_runs` (see `tracklog.client.search_frame`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, TypeAlias, overload

from tracklog.client.entities import Run, run
from tracklog.v1 import query_pb2, query_pb2_grpc, tracking_pb2

MAX_PAGE = 50_000  # the query service's largest SearchRuns page
SEARCH_TIMEOUT_SECONDS = 60.0
OutputFormat = Literal["list", "pandas"]
DataFrame: TypeAlias = Any  # a pandas.DataFrame (pandas is an optional dependency)


class ViewType:
    """Which runs a search sees (MLflow's `mlflow.entities.ViewType`, same values)."""

    ACTIVE_ONLY = tracking_pb2.VIEW_TYPE_ACTIVE_ONLY
    DELETED_ONLY = tracking_pb2.VIEW_TYPE_DELETED_ONLY
    ALL = tracking_pb2.VIEW_TYPE_ALL


class PagedRuns(list[Run]):
    """A list of runs and the token of the next page ('' or None when this was the last)."""

    def __init__(self, runs: Iterable[Run], token: str | None) -> None:
        super().__init__(runs)
        self.token = token


def experiment_id_list(experiment_ids: str | Sequence[str]) -> list[str]:
    """One id or several, as a list (MLflow accepts both)."""
    return [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)


def search_pages(
    stub: query_pb2_grpc.QueryServiceStub,
    experiment_ids: Sequence[str],
    filter_string: str,
    run_view_type: int,
    max_results: int | None,
    order_by: Sequence[str] | None,
    page_token: str | None,
) -> tuple[list[query_pb2.Run], str | None]:
    """Up to `max_results` run messages (None: all) and the token after them (None: no more)."""
    if max_results is not None and max_results < 0:
        raise ValueError(f"max_results must not be negative, got {max_results}")
    found: list[query_pb2.Run] = []
    token = page_token or ""
    while True:
        wanted = MAX_PAGE if max_results is None else min(MAX_PAGE, max_results - len(found))
        if wanted <= 0:
            return found, token or None
        request = query_pb2.SearchRunsRequest(
            experiment_ids=list(experiment_ids),
            filter=filter_string,
            order_by=list(order_by or ()),
            run_view_type=run_view_type,  # type: ignore[arg-type]
            page_size=wanted,
            page_token=token,
        )
        reply = stub.SearchRuns(request, timeout=SEARCH_TIMEOUT_SECONDS)
        found.extend(reply.runs)
        token = reply.next_page_token
        if not token:
            return found, None


class SearchMixin:
    """Methods of `TracklogClient` for search; they use the client's query stub."""

    _query: query_pb2_grpc.QueryServiceStub

    @overload
    def search_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
        output_format: Literal["list"] = "list",
    ) -> PagedRuns: ...

    @overload
    def search_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
        *,
        output_format: Literal["pandas"],
    ) -> DataFrame: ...

    def search_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
        output_format: OutputFormat = "list",
    ) -> PagedRuns | DataFrame:
        """Runs of the experiments matching `filter_string`, in `order_by` order.

        `filter_string` is MLflow's language (``"metrics.acc > 0.9 and params.lr =
        '0.01'"``); `order_by` entries look like ``"metrics.acc DESC"``. At most
        `max_results` runs (None: all), from `page_token` on. A bad filter raises
        grpc.RpcError with INVALID_ARGUMENT naming the position.
        """
        ids = experiment_id_list(experiment_ids)
        sync = getattr(self, "_sync", None)  # TracklogClient's read-your-writes wait
        if sync is not None:
            sync()
        messages, token = search_pages(
            self._query, ids, filter_string, run_view_type, max_results, order_by, page_token
        )
        return runs_as(messages, token, output_format)


def runs_as(
    messages: list[query_pb2.Run], token: str | None, output_format: OutputFormat
) -> PagedRuns | DataFrame:
    if output_format == "list":
        return PagedRuns([run(m) for m in messages], token)
    if output_format == "pandas":
        from tracklog.client.search_frame import runs_frame

        return runs_frame(messages)
    raise ValueError(f"output_format must be 'list' or 'pandas', got {output_format!r}")
