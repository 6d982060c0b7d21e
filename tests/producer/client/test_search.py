"""search_runs in the SDK (client mixin and fluent) against a real query server."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg
import pytest

import tracklog
from tests.query.conftest import channel, pg, schemas, server, stub  # noqa: F401
from tests.query.filter_reference import RefRun, insert_runs
from tests.query.rows import insert_experiment
from tracklog.client import search as client_search
from tracklog.client.entities import Run
from tracklog.client.search import PagedRuns, SearchMixin, ViewType
from tracklog.session import default
from tracklog.v1 import query_pb2_grpc

T0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


class Client(SearchMixin):
    def __init__(self, query_stub: query_pb2_grpc.QueryServiceStub) -> None:
        self._query = query_stub


@pytest.fixture
def runs(pg: psycopg.Connection[Any]) -> list[RefRun]:  # noqa: F811
    insert_experiment(pg, "e1", "search-me", T0)
    insert_experiment(pg, "e2", "other", T0)
    data = [
        RefRun(
            run_id=f"r{i:02d}",
            experiment_id="e1" if i < 9 else "e2",
            status="FINISHED" if i % 2 else "RUNNING",
            run_name=f"run-{i}",
            artifact_uri=f"file:///a/r{i:02d}",
            lifecycle_stage="deleted" if i == 8 else "active",
            start_time=T0 + timedelta(minutes=i),
            end_time=T0 + timedelta(minutes=i, seconds=30) if i % 2 else None,
            params={"lr": ["0.1", "0.01"][i % 2]} | ({"opt": "adam"} if i % 3 == 0 else {}),
            tags={"team": "ab"[i % 2]},
            metrics={"acc": i / 10} | ({"loss": 1.0 / (i + 1)} if i % 2 else {}),
        )
        for i in range(10)
    ]
    insert_runs(pg, data)
    return data


def test_search_runs_returns_a_dataframe_shaped_like_mlflow(
    runs: list[RefRun],
    stub: query_pb2_grpc.QueryServiceStub,  # noqa: F811
) -> None:
    frame = Client(stub).search_runs(
        "e1", "metrics.acc >= 0.2", order_by=["metrics.acc DESC"], output_format="pandas"
    )
    assert list(frame.columns) == [
        "run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time",
        "metrics.acc", "metrics.loss", "params.lr", "params.opt", "tags.mlflow.runName",
        "tags.team",
    ]  # fmt: skip
    assert list(frame["run_id"]) == ["r07", "r06", "r05", "r04", "r03", "r02"]
    assert str(frame["start_time"].dtype).startswith("datetime64") and "UTC" in str(
        frame["start_time"].dtype
    )
    assert frame["start_time"].iloc[0].to_pydatetime() == T0 + timedelta(minutes=7)
    assert frame["end_time"].isna().tolist() == [False, True, False, True, False, True]
    assert frame["metrics.acc"].dtype == "float64"
    assert math.isnan(frame["metrics.loss"].iloc[1]) and frame["metrics.loss"].iloc[0] == 0.125
    assert frame["params.lr"].iloc[0] == "0.01" and frame["tags.team"].iloc[1] == "a"
    assert frame["tags.mlflow.runName"].iloc[0] == "run-7"
    assert list(frame["status"][:2]) == ["FINISHED", "RUNNING"]
    empty = Client(stub).search_runs("e1", "params.lr = 'none'", output_format="pandas")
    assert (
        list(empty.columns[:6]) == list(tracklog.client.search_frame.INFO_COLUMNS) and empty.empty
    )


def test_search_runs_lists_runs_and_pages(
    runs: list[RefRun],
    stub: query_pb2_grpc.QueryServiceStub,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = Client(stub)
    first = client.search_runs(["e1"], max_results=3, order_by=["run_id"])
    assert isinstance(first, PagedRuns) and all(isinstance(r, Run) for r in first)
    assert [r.info.run_id for r in first] == ["r00", "r01", "r02"] and first.token
    rest = client.search_runs(["e1"], order_by=["run_id"], page_token=first.token)
    assert [r.info.run_id for r in rest] == ["r03", "r04", "r05", "r06", "r07"]
    assert rest.token is None
    assert rest[0].data.params == {"lr": "0.01", "opt": "adam"}
    monkeypatch.setattr(client_search, "MAX_PAGE", 2)  # every run, two per request
    everything = client.search_runs(["e1", "e2"], max_results=None, run_view_type=ViewType.ALL)
    assert sorted(r.info.run_id for r in everything) == [f"r{i:02d}" for i in range(10)]
    deleted = client.search_runs("e1", run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == ["r08"]
    with pytest.raises(grpc.RpcError) as raised:
        client.search_runs("e1", "metrics.acc >> 1")
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(ValueError, match="output_format"):
        client.search_runs("e1", output_format="json")  # type: ignore[call-overload]


def test_fluent_search_runs_uses_the_query_address_and_experiment_names(
    runs: list[RefRun],
    server: tuple[Any, int],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACKLOG_QUERY_ADDR", f"127.0.0.1:{server[1]}")
    monkeypatch.setattr(default, "_default", None)
    frame = tracklog.search_runs(experiment_names=["search-me", "no-such-name"])
    assert sorted(frame["run_id"]) == [f"r{i:02d}" for i in range(8)]
    found = tracklog.search_runs(
        experiment_ids=["e1", "e2"], filter_string="tags.team = 'b'", output_format="list"
    )
    assert [r.info.run_id for r in found] == ["r09", "r07", "r05", "r03", "r01"]
    every = tracklog.search_runs(search_all_experiments=True, max_results=None)
    assert len(every) == 9
    assert tracklog.search_runs(experiment_names=["no-such-name"]).empty
