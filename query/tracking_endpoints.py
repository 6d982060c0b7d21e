"""The QueryService's tracking calls, request -> response (the servicer only wires them).

`wait_for`: read-your-writes; returns once the Postgres projection has passed every
position of a flush token (the worker writes ClickHouse before Postgres in each batch,
so the Postgres tracking row passing an offset implies the metric points are in
ClickHouse too), else DeadlineExceeded. `search_experiments`: MLflow's
search_experiments (offset page tokens, fingerprinted by the query). `service_info`:
the deployment's artifact root, so that every client puts a new experiment's
artifacts in the one place the deployment chose. `search_datasets`: the summaries of
the datasets runs of some experiments used (MLflow's runs table filters by them).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata

from tracklog.contract import flush_tokens
from tracklog.contract.locations import normalize_root
from tracklog.contract.settings import ArtifactRootSettings
from tracklog.query import convert, paging
from tracklog.query.errors import InvalidArgument
from tracklog.query.stores.postgres import Pool
from tracklog.query.stores.projection_wait import wait_for_positions
from tracklog.query.stores.tracking import dataset_summaries
from tracklog.query.stores.tracking import search_experiments as search
from tracklog.v1 import query_pb2, tracking_pb2

WAIT_SECONDS = (30.0, 300.0)  # (default, maximum)
EXPERIMENTS_PAGE = (1000, 50_000)
_SEARCH = "experiment-search"
DATASET_EXPERIMENTS_MAX = 100
DATASET_SUMMARIES_MAX = 1000  # as MLflow's SQL store


def service_info(
    artifact_root: str, roots: ArtifactRootSettings | None = None
) -> tracking_pb2.GetServiceInfoResponse:
    """What GetServiceInfo answers: ``artifact_root`` as a URI ('' when not configured) and
    the roots artifact locations must lie under (``roots``, default from the environment
    with ``artifact_root`` as TRACKLOG_ARTIFACT_ROOT; none when not checked)."""
    try:
        version = metadata.version("tracklog")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        version = "unknown"
    root = normalize_root(artifact_root) if artifact_root else ""
    roots = ArtifactRootSettings.from_env(root=artifact_root) if roots is None else roots
    return tracking_pb2.GetServiceInfoResponse(
        artifact_root=root,
        version=version,
        artifact_roots=[normalize_root(r) for r in roots.allowed()],
    )


def wait_for(
    pool: Pool, request: tracking_pb2.WaitForRequest, active: Callable[[], bool] = lambda: True
) -> tracking_pb2.WaitForResponse:
    """Wait until the token's positions are projected; stops early once `active()` is false
    (the caller went away). The request limits bound its timeout and positions first."""
    try:
        positions = flush_tokens.decode(request.token)
    except ValueError as exc:
        raise InvalidArgument(f"invalid token: {exc}") from None
    default, maximum = WAIT_SECONDS
    timeout = request.timeout_seconds or default
    if not 0 < timeout <= maximum:
        raise InvalidArgument(f"timeout_seconds must be in (0, {maximum:g}], got {timeout:g}")
    wait_for_positions(pool, positions, timeout, active=active)
    return tracking_pb2.WaitForResponse(
        positions=[
            tracking_pb2.LogPosition(log=log, partition=partition, offset=offset)
            for (log, partition), offset in sorted(positions.items())
        ]
    )


def search_experiments(
    pool: Pool, request: query_pb2.SearchExperimentsRequest
) -> query_pb2.SearchExperimentsResponse:
    default, maximum = EXPERIMENTS_PAGE
    limit = paging.page_size(request.max_results, default=default, maximum=maximum)
    if request.view_type not in tracking_pb2.ViewType.values():
        raise InvalidArgument(f"unknown view_type {request.view_type}")
    scope = paging.scope_of(int(request.view_type), request.filter, list(request.order_by), limit)
    offset = 0
    if request.page_token:
        cursor = paging.decode_token(request.page_token, _SEARCH, scope)
        if len(cursor) != 1 or not isinstance(cursor[0], int) or cursor[0] < 0:
            raise InvalidArgument("invalid page_token: malformed cursor")
        offset = cursor[0]
    records, more = search(
        pool, request.view_type, request.filter, list(request.order_by), offset, limit
    )
    token = paging.encode_token(_SEARCH, [offset + limit], scope) if more else ""
    return query_pb2.SearchExperimentsResponse(
        experiments=[convert.experiment(r) for r in records], next_page_token=token
    )


def search_datasets(
    pool: Pool, request: query_pb2.SearchDatasetsRequest
) -> query_pb2.SearchDatasetsResponse:
    experiment_ids = list(request.experiment_ids)
    if not 0 < len(experiment_ids) <= DATASET_EXPERIMENTS_MAX:
        raise InvalidArgument(
            f"experiment_ids must hold 1 to {DATASET_EXPERIMENTS_MAX} ids,"
            f" got {len(experiment_ids)}"
        )
    rows = dataset_summaries(pool, experiment_ids, DATASET_SUMMARIES_MAX)
    return query_pb2.SearchDatasetsResponse(
        dataset_summaries=[
            query_pb2.DatasetSummary(experiment_id=e, name=n, digest=d, context=c)
            for e, n, d, c in rows
        ]
    )
