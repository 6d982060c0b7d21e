"""What Tracklog's MLflow store does not do, answered so MLflow says so clearly.

GenAI features (traces, prompts, scorers, the gateway) are out of scope: they keep
MLflow's NotImplementedError or raise NOT_IMPLEMENTED naming the feature. Reads the web
UI makes on every page (the AI gateway's endpoints) or on an experiment's landing page
(MLflow 3.17's UI opens an experiment on its GenAI overview: trace metrics; its other
GenAI tabs: traces, evaluation datasets, judges) answer empty, as for an experiment
without any, so the pages render instead of "Failed to load chart data" or "Internal
server error". Nothing can write those here, so empty is true.
"""

from __future__ import annotations

from typing import Any

from mlflow.store.entities.paged_list import PagedList

from tracklog.mlflow.errors import unsupported
from tracklog.mlflow.store_base import StoreBase


class UnsupportedPart(StoreBase):
    def link_traces_to_run(self, trace_ids: list[str], run_id: str) -> None:
        raise unsupported("Traces (GenAI)")

    def list_gateway_endpoints(
        self, provider: str | None = None, secret_id: str | None = None
    ) -> list[Any]:
        return []

    def query_trace_metrics(self, experiment_ids: list[str], *args: Any, **kwargs: Any) -> Any:
        return PagedList([], None)

    def search_traces(self, *args: Any, **kwargs: Any) -> tuple[list[Any], str | None]:
        return [], None

    def search_datasets(self, *args: Any, **kwargs: Any) -> Any:
        return PagedList([], None)

    def list_scorers(self, experiment_id: str) -> list[Any]:
        return []

    def list_scorers_across_experiments(self, experiment_ids: list[str]) -> list[Any]:
        return []
