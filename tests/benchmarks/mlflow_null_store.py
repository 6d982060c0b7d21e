"""A tracking store that keeps nothing: MLflow's own cost, for bench_mlflow.py's ceilings.

`null://` in this process (`register()`), or MLflow's server over it (run this file:
``python tests/benchmarks/mlflow_null_store.py PORT REGISTRY_URI``; MLflow's FastAPI app
under uvicorn, one worker, as `mlflow server` runs it; the server's handlers want a registry
store, a sqlite one that the benchmark does not use). Whatever a store does, MLflow's
client and server cost at least this much per call, so no store's figure can pass it.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from mlflow.entities import Experiment, Metric, Param, Run, RunData, RunInfo, RunTag
from mlflow.store.tracking.abstract_store import AbstractStore
from mlflow.tracking._tracking_service.utils import _tracking_store_registry

SCHEME = "null"
RUN_ID = "0" * 32


class NullStore(AbstractStore):
    """Answers what the benchmark's calls need, records nothing."""

    def create_experiment(self, name: str, artifact_location: Any = None, tags: Any = None) -> str:
        return "0"

    def get_experiment(self, experiment_id: str) -> Experiment:
        return Experiment(experiment_id, "null", "/dev/null", "active")

    def get_experiment_by_name(self, experiment_name: str) -> Experiment:
        return Experiment("0", experiment_name, "/dev/null", "active")

    def _info(self, run_id: str, end_time: int | None = None) -> RunInfo:
        return RunInfo(
            run_id=run_id,
            experiment_id="0",
            user_id="",
            status="RUNNING",
            start_time=int(time.time() * 1000),
            end_time=end_time,
            lifecycle_stage="active",
            artifact_uri="/dev/null",
            run_name="null",
        )

    def create_run(self, experiment_id: str, *args: Any, **kwargs: Any) -> Run:
        return Run(self._info(RUN_ID), RunData())

    def get_run(self, run_id: str) -> Run:
        return Run(self._info(run_id), RunData())

    def update_run_info(self, run_id: str, run_status: Any, end_time: Any, run_name: Any) -> Any:
        return self._info(run_id, end_time)

    def log_batch(
        self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]
    ) -> None:
        return None

    def log_metric(self, run_id: str, metric: Metric) -> None:
        return None


def _store(store_uri: str | None = None, artifact_uri: str | None = None) -> NullStore:
    return NullStore()  # type: ignore[abstract,no-untyped-call]


def register() -> str:
    """Make `null://` MLflow's null store in this process; the URI to use."""
    _tracking_store_registry.register(SCHEME, _store)  # type: ignore[no-untyped-call]
    return f"{SCHEME}://"


def serve(port: int, registry_uri: str) -> None:
    """MLflow's server app over the null store, as `mlflow server --workers 1` runs it."""
    import uvicorn
    from mlflow.server import _UVICORN_LOG_CONFIG, handlers
    from mlflow.server.constants import BACKEND_STORE_URI_ENV_VAR, REGISTRY_STORE_URI_ENV_VAR

    # the server's handlers keep a registry of their own
    handlers._tracking_store_registry.register(SCHEME, _store)  # type: ignore[no-untyped-call]
    os.environ[BACKEND_STORE_URI_ENV_VAR] = register()
    os.environ[REGISTRY_STORE_URI_ENV_VAR] = registry_uri
    uvicorn.run(
        "mlflow.server.fastapi_app:app",
        host="127.0.0.1",
        port=port,
        workers=1,
        log_config=str(_UVICORN_LOG_CONFIG),
    )


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
