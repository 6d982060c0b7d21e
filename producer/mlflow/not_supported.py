"""What Tracklog's MLflow store does not record yet, answered so MLflow says so clearly.

MLflow 3's logged models (``mlflow.<flavor>.log_model`` creates one before it uploads the
model) are not recorded by Tracklog yet: creating or changing one raises MLflow's
NOT_IMPLEMENTED with a message naming the call; until then a model is saved
(``mlflow.<flavor>.save_model``), uploaded with ``log_artifacts`` and registered from its
``runs:/`` URI. Reads the web UI makes on every page (logged models of an experiment, the
AI gateway's endpoints) answer empty so the pages render. GenAI features (traces,
prompts, scorers, the gateway) are out of scope and keep MLflow's NotImplementedError.
"""

from __future__ import annotations

from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.store.entities.paged_list import PagedList

from tracklog.mlflow.errors import not_found, unsupported
from tracklog.mlflow.store_base import StoreBase

LOG_MODEL_HINT = (
    "; save the model with mlflow.<flavor>.save_model, upload it with log_artifacts and "
    "register its runs:/ URI"
)


class LoggedModelsPart(StoreBase):
    def logged_models_unsupported(self, what: str) -> MlflowException:
        return unsupported(f"{what} (MLflow 3 logged models){LOG_MODEL_HINT}")

    def create_logged_model(self, *args: Any, **kwargs: Any) -> Any:
        raise self.logged_models_unsupported("create_logged_model, used by log_model,")

    def finalize_logged_model(self, *args: Any, **kwargs: Any) -> Any:
        raise self.logged_models_unsupported("finalize_logged_model")

    def set_logged_model_tags(self, *args: Any, **kwargs: Any) -> None:
        raise self.logged_models_unsupported("set_logged_model_tags")

    def delete_logged_model_tag(self, *args: Any, **kwargs: Any) -> None:
        raise self.logged_models_unsupported("delete_logged_model_tag")

    def delete_logged_model(self, *args: Any, **kwargs: Any) -> None:
        raise self.logged_models_unsupported("delete_logged_model")

    def log_logged_model_params(self, *args: Any, **kwargs: Any) -> None:
        raise self.logged_models_unsupported("log_logged_model_params")

    def record_logged_model(self, *args: Any, **kwargs: Any) -> None:
        raise self.logged_models_unsupported("record_logged_model")

    def log_outputs(self, *args: Any, **kwargs: Any) -> None:
        raise self.logged_models_unsupported("log_outputs")

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> Any:
        raise not_found(f"Logged model with ID '{model_id}' not found")

    def search_logged_models(self, *args: Any, **kwargs: Any) -> PagedList[Any]:
        return PagedList([], None)

    def link_traces_to_run(self, trace_ids: list[str], run_id: str) -> None:
        raise unsupported("Traces (GenAI)")

    def list_gateway_endpoints(
        self, provider: str | None = None, secret_id: str | None = None
    ) -> list[Any]:
        return []
