"""What Tracklog's MLflow store does not do, answered so MLflow says so clearly.

GenAI features (traces, prompts, scorers, the gateway) are out of scope: they keep
MLflow's NotImplementedError or raise NOT_IMPLEMENTED naming the feature. Reads the web
UI makes on every page (the AI gateway's endpoints) answer empty so the pages render.
"""

from __future__ import annotations

from typing import Any

from tracklog.mlflow.errors import unsupported
from tracklog.mlflow.store_base import StoreBase


class UnsupportedPart(StoreBase):
    def link_traces_to_run(self, trace_ids: list[str], run_id: str) -> None:
        raise unsupported("Traces (GenAI)")

    def list_gateway_endpoints(
        self, provider: str | None = None, secret_id: str | None = None
    ) -> list[Any]:
        return []
