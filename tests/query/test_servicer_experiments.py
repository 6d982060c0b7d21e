"""GetExperiment and ListExperiments over a real server and channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg

from tests.query.expect import rpc_error
from tests.query.rows import insert_experiment
from tracklog.query import paging
from tracklog.query.records import RunCursor
from tracklog.v1 import query_pb2, query_pb2_grpc

T0 = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def test_get_experiment_by_id_and_by_name(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    insert_experiment(pg, "e1", "vision", T0, {"team": "cv", "a": "1"}, "s3://bucket/e1")
    by_id = stub.GetExperiment(query_pb2.GetExperimentRequest(experiment_id="e1")).experiment
    by_name = stub.GetExperiment(query_pb2.GetExperimentRequest(name="vision")).experiment
    assert by_id == by_name
    assert (by_id.experiment_id, by_id.name, by_id.artifact_location) == (
        "e1",
        "vision",
        "s3://bucket/e1",
    )
    assert by_id.lifecycle_stage == "active"
    assert by_id.creation_time.ToDatetime(tzinfo=UTC) == T0
    assert [(t.key, t.value) for t in by_id.tags] == [("a", "1"), ("team", "cv")]


def test_get_experiment_errors(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    call = stub.GetExperiment
    missing_id = query_pb2.GetExperimentRequest(experiment_id="nope")
    assert "'nope'" in rpc_error(call, missing_id, grpc.StatusCode.NOT_FOUND)
    missing_name = query_pb2.GetExperimentRequest(name="ghost")
    assert "'ghost'" in rpc_error(call, missing_name, grpc.StatusCode.NOT_FOUND)
    neither = query_pb2.GetExperimentRequest()
    assert "experiment_id or name" in rpc_error(call, neither, INVALID)


def test_list_experiments_pages_through_every_experiment_once_in_creation_order(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    expected = []
    for i in range(11):
        created = T0 + timedelta(seconds=i // 3)  # ties on creation time, broken by id
        insert_experiment(pg, f"e{i:02d}", f"name-{i}", created, {"i": str(i)})
        expected.append(f"e{i:02d}")
    seen: list[str] = []
    token, pages = "", 0
    while True:
        reply = stub.ListExperiments(
            query_pb2.ListExperimentsRequest(page_size=4, page_token=token)
        )
        seen += [e.experiment_id for e in reply.experiments]
        pages += 1
        token = reply.next_page_token
        if not token:
            break
    assert seen == expected
    assert pages == 3
    everything = stub.ListExperiments(query_pb2.ListExperimentsRequest())
    assert [e.experiment_id for e in everything.experiments] == expected
    assert everything.next_page_token == ""
    assert everything.experiments[5].tags[0].value == "5"


def test_list_experiments_errors(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    call = stub.ListExperiments
    too_big = query_pb2.ListExperimentsRequest(page_size=1001)
    assert "page_size must be at most 1000" in rpc_error(call, too_big, INVALID)
    negative = query_pb2.ListExperimentsRequest(page_size=-5)
    assert "negative" in rpc_error(call, negative, INVALID)
    garbage = query_pb2.ListExperimentsRequest(page_token="garbage!")
    assert "page_token" in rpc_error(call, garbage, INVALID)
    runs_token = paging.run_token(RunCursor(T0, "r"), "")
    foreign = query_pb2.ListExperimentsRequest(page_token=runs_token)
    assert "does not come from the experiments listing" in rpc_error(call, foreign, INVALID)
