"""SearchLoggedModels with MLflow's order_by and datasets, over a real server and channel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import psycopg

from tests.query.expect import rpc_error
from tests.query.test_logged_models import T0, ids, insert_model, search
from tracklog.query import paging
from tracklog.query.filters.logged_model_order import ModelOrder
from tracklog.query.logged_models import search_scope
from tracklog.v1 import logged_models_pb2, query_pb2_grpc

INVALID = grpc.StatusCode.INVALID_ARGUMENT
Order = logged_models_pb2.LoggedModelOrder
Dataset = logged_models_pb2.LoggedModelDataset


def insert_point(
    conn: psycopg.Connection[Any],
    model_id: str,
    key: str,
    value: float,
    timestamp_ms: int,
    step: int = 0,
    dataset: tuple[str, str] = ("", ""),
    run_id: str = "r1",
) -> None:
    conn.execute(
        "INSERT INTO logged_model_metrics (model_id, key, value, timestamp_ms, step,"
        " dataset_name, dataset_digest, run_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (model_id, key, value, timestamp_ms, step, *dataset, run_id),
    )


def test_attributes_order_with_mlflows_tie_breaks(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    insert_model(pg, "m-a", "e1", T0, name="beta", status="FAILED", model_type="sklearn")
    insert_model(pg, "m-b", "e1", T0 + timedelta(seconds=1), name="alpha", status="READY")
    insert_model(pg, "m-c", "e1", T0 + timedelta(seconds=2), name="beta", status="PENDING")
    insert_model(pg, "m-d", "e1", T0 + timedelta(seconds=2), name="beta", model_type="agent")

    def ordered(*orders: Order) -> list[str]:
        return ids(search(stub, "e1", order_by=list(orders)))

    # equal names: newest first, then by model id
    assert ordered(Order(field_name="name")) == ["m-b", "m-c", "m-d", "m-a"]
    assert ordered(Order(field_name="name", descending=True)) == ["m-c", "m-d", "m-a", "m-b"]
    for oldest_first in ("creation_timestamp", "creation_time", "creation_timestamp_ms"):
        assert ordered(Order(field_name=oldest_first)) == ["m-a", "m-b", "m-c", "m-d"]
    assert ordered(Order(field_name="model_id", descending=True)) == ["m-d", "m-c", "m-b", "m-a"]
    # MLflow numbers statuses PENDING 1, READY 2, FAILED 3
    assert ordered(Order(field_name="status"), Order(field_name="model_id")) == [
        "m-c",
        "m-b",
        "m-d",
        "m-a",
    ]
    # a model without a type (MLflow's NULL) is last in either direction
    assert ordered(Order(field_name="model_type")) == ["m-d", "m-a", "m-c", "m-b"]
    assert ordered(Order(field_name="model_type", descending=True)) == ["m-a", "m-d", "m-c", "m-b"]


def test_metrics_order_by_each_models_latest_point_and_dataset(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    for i, model_id in enumerate(["m-1", "m-2", "m-3", "m-4"]):
        insert_model(pg, model_id, "e1", T0 + timedelta(seconds=i))
    insert_point(pg, "m-1", "acc", 0.9, timestamp_ms=100)
    insert_point(pg, "m-1", "acc", 0.1, timestamp_ms=200)  # latest: 0.1
    insert_point(pg, "m-2", "acc", 0.5, timestamp_ms=100, step=1)  # same time, higher step
    insert_point(pg, "m-2", "acc", 0.99, timestamp_ms=100, step=0)
    insert_point(pg, "m-3", "acc", 0.7, timestamp_ms=50, dataset=("test", "d1"))
    insert_point(pg, "m-3", "acc", 0.2, timestamp_ms=60, dataset=("train", "d2"))
    insert_point(pg, "m-4", "loss", 3.0, timestamp_ms=10)  # no acc: last either way

    def ordered(**order: Any) -> list[str]:
        return ids(search(stub, "e1", order_by=[Order(field_name="metrics.acc", **order)]))

    assert ordered() == ["m-1", "m-3", "m-2", "m-4"]  # 0.1, 0.2, 0.5
    assert ordered(descending=True) == ["m-2", "m-3", "m-1", "m-4"]
    # restricted to a dataset, m-3's latest is 0.7 and the others have none
    assert ordered(dataset_name="test") == ["m-3", "m-4", "m-2", "m-1"]
    assert ordered(dataset_name="test", dataset_digest="other") == ["m-4", "m-3", "m-2", "m-1"]


def test_datasets_keep_models_with_a_metric_on_one_of_them(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    for i, model_id in enumerate(["m-1", "m-2", "m-3"]):
        insert_model(pg, model_id, "e1", T0 + timedelta(seconds=i))
    insert_point(pg, "m-1", "acc", 0.9, 1, dataset=("test", "d1"))
    insert_point(pg, "m-2", "acc", 0.8, 1, dataset=("test", "d2"))
    insert_point(pg, "m-3", "acc", 0.7, 1)

    def kept(*datasets: Dataset) -> list[str]:
        return ids(search(stub, "e1", datasets=list(datasets)))

    assert kept(Dataset(dataset_name="test")) == ["m-2", "m-1"]
    assert kept(Dataset(dataset_name="test", dataset_digest="d1")) == ["m-1"]
    either = (Dataset(dataset_name="nope"), Dataset(dataset_name="test", dataset_digest="d2"))
    assert kept(*either) == ["m-2"]
    assert kept(Dataset(dataset_name="train")) == []

    def matching(text: str, *datasets: Dataset) -> list[str]:
        return ids(search(stub, "e1", filter=text, datasets=list(datasets)))

    assert matching("metrics.acc >= 0.8") == ["m-2", "m-1"]
    assert matching("metrics.acc >= 0.8", Dataset(dataset_name="test", dataset_digest="d2")) == [
        "m-2"
    ]
    assert matching("metrics.acc < 0.75", Dataset(dataset_name="test")) == []  # m-3: no dataset
    assert matching("metrics.acc < 0.75") == ["m-3"]


def test_ordered_pages_follow_the_order_with_a_token_bound_to_it(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    names = ["e", "b", "d", "a", "c"]
    for i, name in enumerate(names):
        insert_model(pg, f"m-{i}", "e1", T0 + timedelta(seconds=i), name=name)
    by_name = [Order(field_name="name")]
    pages, token = [], ""
    while True:
        page = search(stub, "e1", order_by=by_name, max_results=2, page_token=token)
        pages.append([m.name for m in page.models])
        token = page.next_page_token
        if not token:
            break
    assert pages == [["a", "b"], ["c", "d"], ["e"]]
    first = search(stub, "e1", order_by=by_name, max_results=2).next_page_token
    call = stub.SearchLoggedModels
    descending = [Order(field_name="name", descending=True)]
    for other in (
        logged_models_pb2.SearchLoggedModelsRequest(
            experiment_ids=["e1"], order_by=descending, page_token=first
        ),
        logged_models_pb2.SearchLoggedModelsRequest(experiment_ids=["e1"], page_token=first),
    ):
        assert "invalid page_token" in rpc_error(call, other, INVALID)
    fifth = paging.logged_model_offset_token(4, search_scope(["e1"], "", [ModelOrder("name")]))
    assert ids(search(stub, "e1", order_by=by_name, page_token=fifth)) == ["m-0"]


def test_invalid_orders_and_datasets_name_the_problem(
    pg: psycopg.Connection[Any], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    call = stub.SearchLoggedModels

    def error(**fields: Any) -> str:
        request = logged_models_pb2.SearchLoggedModelsRequest(experiment_ids=["e1"], **fields)
        return rpc_error(call, request, INVALID)

    assert error(order_by=[Order(field_name="size")]) == "Invalid order by field name: size"
    assert error(order_by=[Order(field_name="params.lr")]) == (
        "Invalid order by field name: params.lr. Only metrics are supported."
    )
    assert "needs a field_name" in error(order_by=[Order()])
    assert error(datasets=[Dataset(dataset_digest="d1")]) == (
        "`dataset_name` in the `datasets` clause must be specified."
    )
