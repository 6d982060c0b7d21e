"""`--verify`: the source and Tracklog compared after an import.

Counts (experiments, runs per experiment, params, tags and metric keys per run, versions
per registered model) for everything, and the full history of a sample of metrics
(every key of up to `SAMPLE_RUNS` runs spread over the import), read through Tracklog's
client (`TracklogClient`) and MLflow's client over the source. Each difference is one
line; none means they agree.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING

from mlflow.entities import Run

from tracklog.client.tracklog_client import TracklogClient
from tracklog.mlflow.importer import registry
from tracklog.mlflow.importer.source import MlflowSource

if TYPE_CHECKING:
    from tracklog.mlflow.importer.importer import ImportOptions

SAMPLE_RUNS = 20


def _comparable(value: float) -> object:
    """NaN equal to NaN; an infinity as Tracklog (and MLflow's SQL stores) keep it, the
    largest finite double (MLflow's file store keeps inf itself)."""
    if math.isnan(value):
        return "nan"
    return math.copysign(sys.float_info.max, value) if math.isinf(value) else value


def _points(values: list[tuple[int, int, float]]) -> list[tuple[int, int, object]]:
    return sorted(((s, t, _comparable(v)) for s, t, v in values), key=repr)


def verify(options: ImportOptions, experiment_ids: dict[str, str] | None = None) -> list[str]:
    """The differences between the source and Tracklog (empty when they agree)."""
    source = MlflowSource(options.source)
    differences: list[str] = []
    sampled: list[Run] = []
    with TracklogClient(options.query_addr) as target:
        for experiment in source.experiments(options.experiments):
            eid = (experiment_ids or {}).get(experiment.experiment_id)
            held = target.get_experiment_by_name(experiment.name)
            if held is None:
                differences.append(f"experiment {experiment.name!r} is missing")
                continue
            if eid is not None and held.experiment_id != eid:
                differences.append(f"experiment {experiment.name!r} has id {held.experiment_id}")
            runs = list(source.runs(experiment.experiment_id))
            for run in runs:
                differences.extend(_compare_run(target, run))
            sampled.extend(runs)
        step = max(1, len(sampled) // SAMPLE_RUNS)
        for run in sampled[::step][:SAMPLE_RUNS]:
            for key in sorted(run.data.metrics):
                mine = _points(source.history(run.info.run_id, key))
                theirs = _points(
                    [
                        (p.step, p.timestamp, p.value)
                        for p in target.get_metric_history(run.info.run_id, key)
                    ]
                )
                if mine != theirs:
                    differences.append(
                        f"run {run.info.run_id} metric {key!r}: {len(mine)} points in MLflow, "
                        f"{len(theirs)} in Tracklog, or different values"
                    )
        if options.registry:
            with source.registry_reads():
                differences.extend(_compare_registry(source, target))
    return differences


def _compare_run(target: TracklogClient, run: Run) -> list[str]:
    run_id = run.info.run_id
    try:
        held = target.get_run(run_id)
    except Exception as error:  # NOT_FOUND, or anything the service says
        return [f"run {run_id} is missing ({error})"]
    found: list[str] = []
    pairs = {
        "params": (run.data.params, held.data.params),
        "tags": (run.data.tags, held.data.tags),
        "metrics": (set(run.data.metrics), set(held.data.metrics)),
    }
    for what, (mine, theirs) in pairs.items():
        if len(mine) != len(theirs):
            found.append(f"run {run_id}: {len(mine)} {what} in MLflow, {len(theirs)} in Tracklog")
    if run.info.status != held.info.status:
        found.append(
            f"run {run_id}: status {run.info.status} in MLflow, {held.info.status} in Tracklog"
        )
    if run.info.lifecycle_stage != held.info.lifecycle_stage:
        found.append(
            f"run {run_id}: {run.info.lifecycle_stage} in MLflow, "
            f"{held.info.lifecycle_stage} in Tracklog"
        )
    return found


def _compare_registry(source: MlflowSource, target: TracklogClient) -> list[str]:
    found: list[str] = []
    for model in registry.models(source.client):
        mine = {int(v.version) for v in registry.versions(source.client, model.name)}
        quoted = model.name.replace("'", "\\'")
        theirs = {
            v.version for v in target.search_model_versions(f"name = '{quoted}'", max_results=1000)
        }
        if mine != theirs:
            found.append(
                f"model {model.name!r}: versions {sorted(mine)} in MLflow, "
                f"{sorted(theirs)} in Tracklog"
            )
    return found
