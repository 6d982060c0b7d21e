"""`tracklog.search_runs`: MLflow's fluent search, through the default session's client
(`tracklog.get_client`), so it sees every write this process made before it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracklog.client.search import (
    DataFrame,
    OutputFormat,
    PagedRuns,
    ViewType,
    experiment_id_list,
    runs_as,
)
from tracklog.client.tracklog_client import TracklogClient
from tracklog.contract.ids import DEFAULT_EXPERIMENT_NAME, experiment_id_for
from tracklog.fluent.tracking import get_client
from tracklog.session.default import existing_session


def _all_experiment_ids(client: TracklogClient) -> list[str]:
    ids: list[str] = []
    token: str | None = None
    while True:
        page = client.search_experiments(ViewType.ALL, 1000, page_token=token)
        ids += [e.experiment_id for e in page]
        token = page.token
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
) -> Any:
    """MLflow's `search_runs`: a pandas DataFrame (or a list of runs) of the matching runs;
    it sees every write this process made before it (read-your-writes)."""
    session = existing_session()
    current = None if session is None else session.current_experiment
    return search_with_client(
        get_client(),
        experiment_ids,
        filter_string,
        run_view_type,
        max_results,
        order_by,
        output_format,
        search_all_experiments,
        experiment_names,
        current_experiment_id=None if current is None else current.experiment_id,
    )


def search_with_client(
    client: TracklogClient,
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
) -> DataFrame | PagedRuns:
    """Runs matching `filter_string` as a DataFrame (or a list); see `mlflow.search_runs`.

    Without `experiment_ids` or `experiment_names`, searches the current experiment
    (the default one when none was set), or every experiment with
    `search_all_experiments=True`. Names nobody holds are skipped (as MLflow). All
    matching runs up to `max_results` (None: no limit) are fetched, page after page.
    """
    ids = [] if experiment_ids is None else experiment_id_list(experiment_ids)
    for name in experiment_names or ():
        found = client.get_experiment_by_name(name)
        if found is not None:
            ids.append(found.experiment_id)
    if experiment_ids is None and not experiment_names:
        if search_all_experiments:
            ids = _all_experiment_ids(client)
        else:
            ids = [current_experiment_id or experiment_id_for(DEFAULT_EXPERIMENT_NAME)]
    if not ids or output_format not in ("list", "pandas"):
        return runs_as([], None, output_format)  # (raises on an unknown output_format)
    if output_format == "pandas":
        return client.search_runs(
            ids, filter_string, run_view_type, max_results, order_by, output_format="pandas"
        )
    return client.search_runs(ids, filter_string, run_view_type, max_results, order_by)
