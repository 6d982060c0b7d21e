"""GetExperiment and ListExperiments over a real server and channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg

from tests.query.expect import rpc_error
from tests.query.rows import insert_experiment, insert_run
from tracklog.query import paging
from tracklog.query.stores.records import RunCursor
from tracklog.v1 import query_pb2, query_pb2_grpc, tracking_pb2

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
    assert by_id.lifecycle_stage == tracking_pb2.LIFECYCLE_STAGE_ACTIVE
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


def test_search_datasets_lists_each_dataset_a_run_of_the_experiments_used_once(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    insert_experiment(pg, "e1", "with-data", T0)
    insert_experiment(pg, "e2", "other", T0)
    for run_id, experiment_id in (("r1", "e1"), ("r2", "e1"), ("r3", "e2")):
        insert_run(pg, run_id, experiment_id)
    pg.execute("UPDATE runs SET lifecycle_stage = 'deleted' WHERE run_id = 'r2'")
    inputs = [
        ("r1", "train", "d1", "training"),
        ("r1", "eval", "d2", ""),
        ("r2", "train", "d1", "training"),  # the same summary from another (deleted) run
        ("r2", "train", "d9", "validation"),
        ("r3", "elsewhere", "d3", "training"),
    ]
    for row in inputs:
        pg.execute(
            "INSERT INTO run_inputs (run_id, dataset_name, dataset_digest, context)"
            " VALUES (%s, %s, %s, %s)",
            row,
        )

    def summaries(*experiment_ids: str) -> list[tuple[str, str, str, str]]:
        request = query_pb2.SearchDatasetsRequest(experiment_ids=experiment_ids)
        reply = stub.SearchDatasets(request)
        return [(s.experiment_id, s.name, s.digest, s.context) for s in reply.dataset_summaries]

    assert summaries("e1") == [
        ("e1", "eval", "d2", ""),
        ("e1", "train", "d1", "training"),
        ("e1", "train", "d9", "validation"),
    ]
    assert [s[1] for s in summaries("e1", "e2")] == ["eval", "train", "train", "elsewhere"]
    assert summaries("nothing-here") == []
    none = query_pb2.SearchDatasetsRequest()
    assert "experiment_ids" in rpc_error(stub.SearchDatasets, none, INVALID)
    many = query_pb2.SearchDatasetsRequest(experiment_ids=[str(i) for i in range(101)])
    assert "experiment_ids" in rpc_error(stub.SearchDatasets, many, INVALID)
