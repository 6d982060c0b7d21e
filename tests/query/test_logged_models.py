"""GetLoggedModel, SearchLoggedModels and GetRun's outputs over a real server and channel."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg

from tests.query.expect import rpc_error
from tests.query.rows import insert_experiment, insert_run
from tracklog.query import paging
from tracklog.query.logged_models import search_scope
from tracklog.query.stores.records import LoggedModelCursor
from tracklog.v1 import events_pb2, logged_models_pb2, query_pb2, query_pb2_grpc, tracking_pb2

T0 = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
MS0 = 1741064767123  # T0 in milliseconds
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def insert_model(
    conn: psycopg.Connection[Any],
    model_id: str,
    experiment_id: str,
    created: datetime,
    *,
    name: str = "model",
    status: str = "READY",
    lifecycle_stage: str = "active",
    tags: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    updated: datetime | None = None,
    **columns: str,
) -> None:
    """A logged_models row (and its tags and params), as the ingest worker writes it."""
    conn.execute(
        "INSERT INTO logged_models (model_id, experiment_id, name, status, lifecycle_stage,"
        " source_run_id, model_type, artifact_location, status_message, creation_time,"
        " last_updated_time) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            model_id, experiment_id, name, status, lifecycle_stage,
            columns.get("source_run_id", ""), columns.get("model_type", ""),
            columns.get("artifact_location", ""), columns.get("status_message", ""),
            created, updated or created,
        ),
    )  # fmt: skip
    for table, pairs in (("logged_model_tags", tags), ("logged_model_params", params)):
        for key, value in (pairs or {}).items():
            conn.execute(
                f"INSERT INTO {table} (model_id, key, value) VALUES (%s, %s, %s)",  # type: ignore[arg-type]
                (model_id, key, value),
            )


def search(
    stub: query_pb2_grpc.QueryServiceStub, *experiment_ids: str, **fields: Any
) -> logged_models_pb2.SearchLoggedModelsResponse:
    request = logged_models_pb2.SearchLoggedModelsRequest(
        experiment_ids=list(experiment_ids), **fields
    )
    response: logged_models_pb2.SearchLoggedModelsResponse = stub.SearchLoggedModels(
        request, timeout=10
    )
    return response


def ids(response: logged_models_pb2.SearchLoggedModelsResponse) -> list[str]:
    return [m.model_id for m in response.models]


def test_get_logged_model_with_its_tags_and_params_sorted_by_key(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    insert_model(
        pg, "m-1", "e1", T0, name="clf", status="PENDING",
        tags={"z": "last", "a": "first"}, params={"lr": "0.1", "depth": "3"},
        source_run_id="r1", model_type="sklearn", artifact_location="s3://b/m-1",
        status_message="uploading", updated=T0 + timedelta(seconds=2),
    )  # fmt: skip
    request = logged_models_pb2.GetLoggedModelRequest(model_id="m-1")
    model = stub.GetLoggedModel(request, timeout=10).model
    assert (model.model_id, model.experiment_id, model.name) == ("m-1", "e1", "clf")
    assert (model.source_run_id, model.model_type) == ("r1", "sklearn")
    assert model.artifact_location == "s3://b/m-1"
    assert model.status == events_pb2.LOGGED_MODEL_STATUS_PENDING
    assert (model.status_message, model.lifecycle_stage) == (
        "uploading",
        tracking_pb2.LIFECYCLE_STAGE_ACTIVE,
    )
    assert (model.creation_time_ms, model.last_updated_time_ms) == (MS0, MS0 + 2000)
    assert [(t.key, t.value) for t in model.tags] == [("a", "first"), ("z", "last")]
    assert [(p.key, p.value) for p in model.params] == [("depth", "3"), ("lr", "0.1")]


def test_a_deleted_model_is_found_only_when_allowed_and_a_missing_one_never(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    insert_model(pg, "gone", "e1", T0, status="FAILED", lifecycle_stage="deleted")
    call = stub.GetLoggedModel
    hidden = logged_models_pb2.GetLoggedModelRequest(model_id="gone")
    assert rpc_error(call, hidden, grpc.StatusCode.NOT_FOUND) == "logged model 'gone' not found"
    allowed = logged_models_pb2.GetLoggedModelRequest(model_id="gone", allow_deleted=True)
    model = call(allowed, timeout=10).model
    assert (model.lifecycle_stage, model.status) == (
        tracking_pb2.LIFECYCLE_STAGE_DELETED,
        events_pb2.LOGGED_MODEL_STATUS_FAILED,
    )
    missing = logged_models_pb2.GetLoggedModelRequest(model_id="nope", allow_deleted=True)
    assert "'nope'" in rpc_error(call, missing, grpc.StatusCode.NOT_FOUND)
    empty = logged_models_pb2.GetLoggedModelRequest()
    assert "model_id is required" in rpc_error(call, empty, INVALID)


def test_search_lists_the_active_models_of_the_experiments_newest_first(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    insert_model(pg, "old", "e1", T0)
    insert_model(pg, "new", "e1", T0 + timedelta(minutes=5))
    insert_model(pg, "mid-b", "e2", T0 + timedelta(minutes=1))
    insert_model(pg, "mid-a", "e2", T0 + timedelta(minutes=1))  # a tie: model_id decides
    insert_model(pg, "deleted", "e1", T0 + timedelta(minutes=9), lifecycle_stage="deleted")
    insert_model(pg, "elsewhere", "e3", T0 + timedelta(minutes=9))
    assert ids(search(stub, "e1")) == ["new", "old"]
    both = search(stub, "e1", "e2")
    assert ids(both) == ["new", "mid-a", "mid-b", "old"]
    assert both.next_page_token == ""
    assert both.models[0].creation_time_ms == MS0 + 300_000


def test_search_filters_by_name_attributes_and_tags(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    insert_model(pg, "m1", "e1", T0, name="model", tags={"team": "cv"}, source_run_id="r1")
    insert_model(pg, "m2", "e1", T0 + timedelta(seconds=1), name="model", tags={"team": "nlp"})
    insert_model(pg, "m3", "e1", T0 + timedelta(seconds=2), name="other", status="FAILED")
    assert ids(search(stub, "e1", filter="name = 'model'")) == ["m2", "m1"]
    assert ids(search(stub, "e1", filter="tags.team = 'cv'")) == ["m1"]
    assert ids(search(stub, "e1", filter="tags.team IS NULL")) == ["m3"]
    assert ids(search(stub, "e1", filter="tags.team IS NOT NULL AND name LIKE 'mod%'")) == [
        "m2",
        "m1",
    ]
    assert ids(search(stub, "e1", filter="attributes.status != 'READY'")) == ["m3"]
    assert ids(search(stub, "e1", filter="source_run_id = 'r1' AND tags.team = 'nlp'")) == []


def test_search_pages_with_a_token_bound_to_its_query(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    # microseconds apart, m4 newest; m1 and m2 tie and straddle the page boundary
    for i, micros in enumerate([10, 20, 20, 30, 40]):
        insert_model(pg, f"m{i}", "e1", T0 + timedelta(microseconds=micros))
    first = search(stub, "e1", max_results=3)
    assert ids(first) == ["m4", "m3", "m1"]
    assert first.next_page_token
    second = search(stub, "e1", max_results=3, page_token=first.next_page_token)
    assert ids(second) == ["m2", "m0"]
    assert second.next_page_token == ""
    call = stub.SearchLoggedModels
    other_query = logged_models_pb2.SearchLoggedModelsRequest(
        experiment_ids=["e1"], filter="name = 'model'", page_token=first.next_page_token
    )
    assert "belongs to a different query" in rpc_error(call, other_query, INVALID)


def test_search_errors_name_the_problem(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    call = stub.SearchLoggedModels
    request = logged_models_pb2.SearchLoggedModelsRequest

    def error(**fields: Any) -> str:
        return rpc_error(call, request(**fields), INVALID)

    assert "experiment_ids must name at least one experiment" in error()
    assert "empty id" in error(experiment_ids=["e1", ""])
    assert "max_results must be at most 1000, got 1001" in error(
        experiment_ids=["e1"], max_results=1001
    )
    assert "max_results must not be negative" in error(experiment_ids=["e1"], max_results=-1)
    bad_filter = error(experiment_ids=["e1"], filter="runs.alpha = '1'")
    assert bad_filter.startswith("invalid filter at position 0: unknown field 'runs.alpha'")
    assert "expected AND" in error(experiment_ids=["e1"], filter="name = 'a' OR name = 'b'")
    assert "invalid page_token" in error(experiment_ids=["e1"], page_token="garbage!")
    foreign = paging.run_offset_token(3, search_scope(["e1"], ""))
    assert "does not come from the logged-models listing" in error(
        experiment_ids=["e1"], page_token=foreign
    )
    malformed = paging.encode_token("logged-models", ["x"], search_scope(["e1"], ""))
    assert "malformed cursor" in error(experiment_ids=["e1"], page_token=malformed)


def test_a_token_made_by_the_paging_helper_resumes_after_that_model(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    insert_model(pg, "a", "e1", T0)
    insert_model(pg, "b", "e1", T0 + timedelta(seconds=1))
    cursor = LoggedModelCursor(T0 + timedelta(seconds=1), "b")
    token = paging.logged_model_token(cursor, search_scope(["e1"], ""))
    assert ids(search(stub, "e1", page_token=token)) == ["a"]


def test_get_run_carries_the_models_the_run_produced_and_used(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    insert_experiment(pg, "e1", "exp", T0)
    insert_run(pg, "r1", "e1", start=T0)
    insert_run(pg, "r2", "e1", start=T0)
    for run_id, model_id, step in [("r1", "m-b", 5), ("r1", "m-a", 5), ("r1", "m-c", 0)]:
        pg.execute(
            "INSERT INTO run_outputs (run_id, model_id, step) VALUES (%s, %s, %s)",
            (run_id, model_id, step),
        )
    for model_id in ("m-z", "m-y"):
        pg.execute(
            "INSERT INTO run_model_inputs (run_id, model_id) VALUES (%s, %s)", ("r1", model_id)
        )
    run = stub.GetRun(query_pb2.GetRunRequest(run_id="r1"), timeout=10).run
    assert [(o.model_id, o.step) for o in run.outputs] == [("m-c", 0), ("m-a", 5), ("m-b", 5)]
    assert [i.model_id for i in run.model_inputs] == ["m-y", "m-z"]
    other = stub.GetRun(query_pb2.GetRunRequest(run_id="r2"), timeout=10).run
    assert list(other.outputs) == [] and list(other.model_inputs) == []
