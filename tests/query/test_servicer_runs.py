"""GetRun and SearchRuns over a real server and channel."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg
import pytest

from tests.query.expect import rpc_error
from tests.query.rows import insert_experiment, insert_run
from tracklog.v1 import events_pb2, query_pb2, query_pb2_grpc, tracking_pb2

T0 = datetime(2024, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
INVALID = grpc.StatusCode.INVALID_ARGUMENT
STATUSES = ["RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED"]


def test_get_run_returns_info_params_tags_and_latest_metrics(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    insert_experiment(pg, "e1", "exp", T0)
    insert_run(
        pg,
        "r1",
        "e1",
        status="FINISHED",
        start=T0,
        end=T0 + timedelta(minutes=5),
        params={"lr": "0.01", "bs": "64"},
        tags={"mlflow.user": "ada"},
        metrics=[("loss", 0.25, 1_700_000_000_123, 99), ("acc", math.nan, 5, 7)],
        run_name="bright-owl",
        parent_run_id="r0",
        user_id="ada",
    )
    run = stub.GetRun(query_pb2.GetRunRequest(run_id="r1")).run
    info = run.info
    assert (info.run_id, info.experiment_id, info.run_name, info.parent_run_id, info.user_id) == (
        "r1",
        "e1",
        "bright-owl",
        "r0",
        "ada",
    )
    assert info.status == events_pb2.RUN_STATUS_FINISHED
    assert info.lifecycle_stage == tracking_pb2.LIFECYCLE_STAGE_ACTIVE
    assert info.start_time.ToDatetime(tzinfo=UTC) == T0
    assert info.end_time.ToDatetime(tzinfo=UTC) == T0 + timedelta(minutes=5)
    assert [(p.key, p.value) for p in run.data.params] == [("bs", "64"), ("lr", "0.01")]
    assert [(t.key, t.value) for t in run.data.tags] == [("mlflow.user", "ada")]
    acc, loss = run.data.metrics
    assert (loss.key, loss.value, loss.timestamp_ms, loss.step) == (
        "loss",
        0.25,
        1_700_000_000_123,
        99,
    )
    assert acc.key == "acc" and math.isnan(acc.value) and (acc.timestamp_ms, acc.step) == (5, 7)


def test_get_run_without_times_leaves_them_unset(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    insert_run(pg, "r2", "e1", status="SCHEDULED")
    run = stub.GetRun(query_pb2.GetRunRequest(run_id="r2")).run
    assert run.info.status == events_pb2.RUN_STATUS_SCHEDULED
    assert not run.info.HasField("start_time") and not run.info.HasField("end_time")
    assert list(run.data.params) == [] and list(run.data.metrics) == []


def test_get_run_errors(pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub) -> None:
    unknown = query_pb2.GetRunRequest(run_id="missing-run")
    assert "'missing-run'" in rpc_error(stub.GetRun, unknown, grpc.StatusCode.NOT_FOUND)
    assert "run_id" in rpc_error(stub.GetRun, query_pb2.GetRunRequest(), INVALID)


def _fill(pg: psycopg.Connection[Any], count: int) -> list[tuple[datetime | None, str, str]]:
    """Runs over two searched experiments and one other; (start, run_id, experiment)."""
    runs = []
    for i in range(count):
        experiment = ("ea", "eb", "other")[i % 3]
        start = None if i % 17 == 0 else T0 + timedelta(seconds=(i * 7919) % 40)  # many ties
        run_id = f"run-{(i * 31) % count:04d}"
        insert_run(
            pg,
            run_id,
            experiment,
            status=STATUSES[i % 5],
            start=start,
            params={"lr": str(i % 4), "seed": str(i)},
            tags={"team": "ab"[i % 2]},
            metrics=[("loss", float(i), i, i)],
        )
        runs.append((start, run_id, experiment))
    return runs


def _search_all(
    stub: query_pb2_grpc.QueryServiceStub, **fields: Any
) -> tuple[list[query_pb2.Run], int]:
    runs: list[query_pb2.Run] = []
    token, pages = "", 0
    while True:
        request = query_pb2.SearchRunsRequest(page_token=token, **fields)
        reply = stub.SearchRuns(request, timeout=10)
        runs += reply.runs
        pages += 1
        token = reply.next_page_token
        if not token:
            return runs, pages


def _expected_order(runs: list[tuple[datetime | None, str, str]], ascending: bool) -> list[str]:
    timed = sorted((r for r in runs if r[0] is not None), key=lambda r: r[1])
    timed.sort(key=lambda r: r[0], reverse=not ascending)  # type: ignore[arg-type,return-value]
    untimed = sorted(r[1] for r in runs if r[0] is None)
    return [r[1] for r in timed] + untimed


@pytest.mark.parametrize(
    "order", [query_pb2.SORT_ORDER_UNSPECIFIED, query_pb2.SORT_ORDER_ASCENDING]
)
def test_search_runs_pages_through_every_run_once_in_start_time_order(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub, order: Any
) -> None:
    runs = _fill(pg, 300)
    searched = [r for r in runs if r[2] in ("ea", "eb")]
    found, pages = _search_all(
        stub, experiment_ids=["ea", "eb"], start_time_order=order, page_size=7
    )
    ids = [r.info.run_id for r in found]
    assert ids == _expected_order(searched, ascending=order == query_pb2.SORT_ORDER_ASCENDING)
    assert len(set(ids)) == len(searched) == 200
    assert pages == math.ceil(200 / 7)
    assert all(len(r.data.params) == 2 and len(r.data.metrics) == 1 for r in found)
    assert {r.data.params[0].value for r in found} == {str(i) for i in range(4)}  # "lr"


def test_search_runs_filters_by_status_params_and_tags(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    runs = _fill(pg, 120)
    by_id = {r[1]: i for i, r in enumerate(runs)}

    def matching(predicate: Any) -> set[str]:
        return {run_id for run_id, i in by_id.items() if runs[i][2] == "ea" and predicate(i)}

    def search(**fields: Any) -> set[str]:
        found, _ = _search_all(stub, experiment_ids=["ea"], page_size=5, **fields)
        return {r.info.run_id for r in found}

    finished = [events_pb2.RUN_STATUS_FINISHED, events_pb2.RUN_STATUS_FAILED]
    assert search(statuses=finished) == matching(lambda i: i % 5 in (1, 2))
    assert search(param_equals={"lr": "2"}) == matching(lambda i: i % 4 == 2)
    assert search(tag_equals={"team": "b"}) == matching(lambda i: i % 2 == 1)
    both = search(param_equals={"lr": "3", "seed": "15"}, tag_equals={"team": "b"})
    assert both == matching(lambda i: i == 15) and len(both) == 1
    assert search(param_equals={"lr": "3", "seed": "16"}) == set()
    assert search(param_equals={"no-such-param": "1"}) == set()


def test_search_runs_errors(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    _fill(pg, 30)
    call = stub.SearchRuns
    assert "experiment_ids" in rpc_error(call, query_pb2.SearchRunsRequest(), INVALID)
    too_big = query_pb2.SearchRunsRequest(experiment_ids=["ea"], page_size=50_001)
    assert "page_size must be at most 50000" in rpc_error(call, too_big, INVALID)
    negative = query_pb2.SearchRunsRequest(experiment_ids=["ea"], page_size=-1)
    assert "negative" in rpc_error(call, negative, INVALID)
    unspecified = query_pb2.SearchRunsRequest(
        experiment_ids=["ea"], statuses=[events_pb2.RUN_STATUS_UNSPECIFIED]
    )
    assert "RUN_STATUS_UNSPECIFIED" in rpc_error(call, unspecified, INVALID)
    garbage = query_pb2.SearchRunsRequest(experiment_ids=["ea"], page_token="@@@")
    assert "page_token" in rpc_error(call, garbage, INVALID)
    first = stub.SearchRuns(query_pb2.SearchRunsRequest(experiment_ids=["ea"], page_size=2))
    assert first.next_page_token
    other_query = query_pb2.SearchRunsRequest(
        experiment_ids=["eb"], page_size=2, page_token=first.next_page_token
    )
    assert "different query" in rpc_error(call, other_query, INVALID)
