"""Search results as a pandas DataFrame shaped like `mlflow.search_runs` (pandas is optional).

Columns: run_id, experiment_id, status, artifact_uri, start_time, end_time
(UTC datetimes, NaT when unset), then `metrics.<key>` (float, NaN when the run
lacks it), `params.<key>` and `tags.<key>` (str, None when lacking), each group
sorted by key. The run name appears as `tags.mlflow.runName`, as in MLflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from tracklog.v1 import events_pb2, query_pb2

INFO_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")
RUN_NAME_TAG = "mlflow.runName"


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "search_runs(output_format='pandas') needs pandas: pip install 'tracklog[pandas]'"
            " (or pass output_format='list')"
        ) from None
    return pandas


def _ms(run: query_pb2.Run, field: Literal["start_time", "end_time"]) -> float | None:
    if not run.info.HasField(field):
        return None
    moment = getattr(run.info, field)
    return float(moment.seconds * 1000 + moment.nanos // 1_000_000)


def _tags(run: query_pb2.Run) -> dict[str, str]:
    tags = {t.key: t.value for t in run.data.tags}
    if run.info.run_name and RUN_NAME_TAG not in tags:
        tags[RUN_NAME_TAG] = run.info.run_name
    return tags


def runs_frame(runs: Sequence[query_pb2.Run]) -> Any:
    """One row per run, in the given order."""
    pd = _pandas()
    metrics = [{m.key: m.value for m in r.data.metrics} for r in runs]
    params = [{p.key: p.value for p in r.data.params} for r in runs]
    tags = [_tags(r) for r in runs]
    columns: dict[str, Any] = {
        "run_id": [r.info.run_id for r in runs],
        "experiment_id": [r.info.experiment_id for r in runs],
        "status": [
            events_pb2.RunStatus.Name(r.info.status).removeprefix("RUN_STATUS_") for r in runs
        ],
        "artifact_uri": [r.info.artifact_uri for r in runs],
    }
    times: tuple[Literal["start_time", "end_time"], ...] = ("start_time", "end_time")
    for field in times:
        millis = pd.array([_ms(r, field) for r in runs], dtype="Float64")
        columns[field] = pd.to_datetime(millis, unit="ms", utc=True)
    for prefix, rows, missing in (
        ("metrics", metrics, float("nan")),
        ("params", params, None),
        ("tags", tags, None),
    ):
        for key in sorted({k for row in rows for k in row}):
            columns[f"{prefix}.{key}"] = [row.get(key, missing) for row in rows]
    frame = pd.DataFrame(columns)
    for key in (c for c in columns if c.startswith("metrics.")):
        frame[key] = frame[key].astype("float64")
    return frame
