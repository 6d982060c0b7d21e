"""CompareRuns: params that differ and agree, and last / min / max of each metric, per run.

The last value is the read model's latest (max of (step, timestamp, value)) from
Postgres; min and max come from ClickHouse in one grouped query for all runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from tracklog.query.errors import InvalidArgument, NotFound
from tracklog.query.series.store import ClickHouseSeriesStore, Pair
from tracklog.query.stores import postgres as store_postgres
from tracklog.query.stores.records import LatestMetric
from tracklog.v1 import series_pb2

MAX_RUNS = 100


def run_ids(request: series_pb2.CompareRunsRequest) -> list[str]:
    """Distinct run ids in request order, 1 to MAX_RUNS of them."""
    ids = list(dict.fromkeys(request.run_ids))
    if not ids:
        raise InvalidArgument("run_ids must name at least one run")
    if any(not run_id for run_id in ids):
        raise InvalidArgument("run_ids must not contain an empty id")
    if len(ids) > MAX_RUNS:
        raise InvalidArgument(f"run_ids must name at most {MAX_RUNS} runs, got {len(ids)}")
    return ids


def _read_postgres(
    pool: store_postgres.Pool, ids: list[str]
) -> tuple[dict[Pair, str], dict[Pair, LatestMetric]]:
    with pool.connection() as conn:
        found = {
            row[0] for row in conn.execute("SELECT run_id FROM runs WHERE run_id = ANY(%s)", (ids,))
        }
        missing = [run_id for run_id in ids if run_id not in found]
        if missing:
            raise NotFound(f"run {missing[0]!r} not found")
        params = {
            (run_id, key): value
            for run_id, key, value in conn.execute(
                "SELECT run_id, key, value FROM params WHERE run_id = ANY(%s)", (ids,)
            )
        }
        latest = {
            (run_id, key): LatestMetric(key, value, timestamp_ms, step)
            for run_id, key, value, timestamp_ms, step in conn.execute(
                "SELECT run_id, key, value, timestamp_ms, step FROM latest_metrics"
                " WHERE run_id = ANY(%s)",
                (ids,),
            )
        }
    return params, latest


def compare_runs(
    pool: store_postgres.Pool, series: ClickHouseSeriesStore, ids: list[str]
) -> series_pb2.CompareRunsResponse:
    params, latest = _read_postgres(pool, ids)
    ranges = series.value_ranges(ids)
    return comparison(ids, params, latest, ranges)


def comparison(
    ids: Sequence[str],
    params: dict[Pair, str],
    latest: dict[Pair, LatestMetric],
    ranges: dict[Pair, tuple[float, float]],
) -> series_pb2.CompareRunsResponse:
    """The response from what the stores hold (pure)."""
    response = series_pb2.CompareRunsResponse(run_ids=ids)
    for key in sorted({key for _, key in params}):
        values = [params.get((run_id, key)) for run_id in ids]
        agree = values[0] is not None and all(v == values[0] for v in values)
        target = response.agreeing_params if agree else response.differing_params
        compared = target.add(key=key)
        for value in values:
            compared.values.add(present=value is not None, value=value or "")
    for key in sorted({key for _, key in latest} | {key for _, key in ranges}):
        metric = response.metrics.add(key=key)
        for run_id in ids:
            last = latest.get((run_id, key))
            low, high = ranges.get((run_id, key), (float("nan"), float("nan")))
            cell = metric.values.add(present=last is not None or (run_id, key) in ranges)
            cell.min, cell.max = low, high
            if last is not None:
                cell.last = last.value
                cell.last_step = last.step
                cell.last_timestamp_ms = last.timestamp_ms
    return response
