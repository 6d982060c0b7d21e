"""MLflow 3's logged models: each one's events (created, params and tags, metrics,
finalized) with stable ids, and the runs' model outputs and inputs. Pure.

A logged model's files are copied as a run's are (importer.py, artifacts.py), to
``<experiment's location>/models/<model id>/artifacts`` as the SDK places them, and the
model created with that ``artifact_location``; with ``--keep-artifact-uris`` it keeps
MLflow's location when Tracklog can read it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from mlflow import MlflowClient
from mlflow.entities import LoggedModel, Run

from tracklog.contract.envelopes import ProducerSession
from tracklog.events import logged_models as events
from tracklog.events.payloads import Payload
from tracklog.mlflow.importer.event_ids import content_label
from tracklog.mlflow.importer.run_events import Built, Skipped, wrap

PAGE = 100


def search(client: MlflowClient, experiment_id: str) -> Iterator[LoggedModel]:
    """Every logged model of the experiment (MLflow's search leaves deleted ones out)."""
    token: str | None = None
    while True:
        page = client.search_logged_models([experiment_id], max_results=PAGE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _status(model: LoggedModel) -> str:
    status = model.status
    return str(getattr(status, "value", status) or "READY")


def logged_model(
    producer: ProducerSession, model: LoggedModel, experiment_id: str, artifact_location: str
) -> Built:
    model_id = model.model_id
    built = Built(model_id, [], [])
    ns = (model.creation_timestamp or 0) * 1_000_000
    try:
        created = events.logged_model_created(
            experiment_id=experiment_id,
            name=model.name,
            source_run_id=model.source_run_id or None,
            model_type=model.model_type or None,
            artifact_location=artifact_location,
            creation_ns=ns,
            tags=dict(model.tags or {}),
            params=dict(model.params or {}),
        )
    except ValueError as error:
        built.skipped.append(Skipped(f"logged model {model_id}", str(error)))
        return built
    label = content_label("logged_model_created", created.SerializeToString(deterministic=True))
    built.envelopes.append(wrap(producer, model_id, label, ns, created))
    by_run: dict[str, list[events.ModelMetric]] = defaultdict(list)
    for m in model.metrics or []:
        by_run[m.run_id or ""].append(
            events.ModelMetric(
                key=m.key,
                value=float(m.value),
                timestamp_ms=int(m.timestamp),
                step=int(m.step or 0),
                run_id=m.run_id or "",
                dataset_name=m.dataset_name or "",
                dataset_digest=m.dataset_digest or "",
            )
        )
    for run_id, points in sorted(by_run.items()):
        if not run_id:
            continue
        try:
            payload = events.logged_model_metrics_logged(run_id, points)
        except ValueError as error:
            built.skipped.append(Skipped(f"logged model {model_id} metrics", str(error)))
            continue
        built.envelopes.append(wrap(producer, model_id, f"metrics/{run_id}", ns, payload))
    status = _status(model)
    if status != "PENDING":
        finalized = events.logged_model_finalized(status, model.status_message or "")
        last_ns = (model.last_updated_timestamp or 0) * 1_000_000 or ns
        built.envelopes.append(wrap(producer, model_id, f"finalized/{status}", last_ns, finalized))
    return built


def run_links(run: Run) -> list[tuple[str, Payload]]:
    """(label, payload) of the run's model outputs and inputs."""
    links: list[tuple[str, Payload]] = []
    outputs = getattr(run, "outputs", None)
    for output in getattr(outputs, "model_outputs", None) or []:
        payload = events.logged_model_output(output.model_id, int(output.step or 0))
        links.append((f"model_output/{output.model_id}/{output.step}", payload))
    inputs = getattr(run, "inputs", None)
    for item in getattr(inputs, "model_inputs", None) or []:
        links.append((f"model_input/{item.model_id}", events.logged_model_input(item.model_id)))
    return links
