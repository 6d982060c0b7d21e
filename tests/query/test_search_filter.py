"""SearchRuns with the filter language, order_by and run views against the Python reference."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg
import pytest

from tests.query.filter_reference import RefRun, insert_runs, matches, millis, ordered
from tracklog.query.errors import InvalidArgument
from tracklog.query.filters.parser import parse_filter, parse_order_by
from tracklog.v1 import query_pb2, query_pb2_grpc, tracking_pb2

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
SEARCHED = ["e1", "e2"]
STATUSES = ["RUNNING", "FINISHED", "FAILED", "KILLED"]
NAMES = ["alpha", "beta", "Alpha-2", "gamma_x", "", "50%off", "delta"]
TAG_VALUES = ["it's", 'say "hi"', "%_\\", "plain", "Plain"]


def make_runs(count: int = 200) -> list[RefRun]:
    runs = []
    for i in range(count):
        start = (
            None
            if i % 13 == 0
            else T0 + timedelta(seconds=(i * 7919) % 50, microseconds=i * 4271 % 1_000_000)
        )
        run = RefRun(
            run_id=f"r{i:03d}",
            experiment_id=("e1", "e2", "e3")[(i // 3) % 3],
            status=STATUSES[i % 4],
            run_name=NAMES[i % 7],
            user_id="ada" if i % 2 else "bob",
            artifact_uri=f"file:///artifacts/{i % 4}/r{i:03d}",
            lifecycle_stage="deleted" if i % 11 == 5 else "active",
            start_time=start,
            end_time=None if start is None or i % 3 == 1 else start + timedelta(minutes=i % 7),
        )  # fmt: skip
        if i % 7:
            run.params["lr"] = ["0.1", "0.01", "0.001", "1e-4"][i % 4]
        run.params["optimizer"] = ["adam", "sgd", "Adam"][i % 3]
        run.params["my key"] = f"v{i % 5}"
        run.params["model.type"] = ["cnn-small", "cnn-large", "mlp"][i % 3]
        if i % 5:
            run.tags["team"] = "abc"[i % 3]
        run.tags["note"] = TAG_VALUES[i % 5]
        if i % 4 == 0:
            run.tags["mlflow.source.type"] = "NOTEBOOK"
        if i % 9:
            run.metrics["acc"] = math.nan if i % 17 == 0 else (i * 37 % 100) / 100
        run.metrics["loss"] = math.inf if i == 45 else i / 3
        run.metrics["val loss"] = (i % 10) * 0.5
        runs.append(run)
    return runs


START_MS = millis(T0 + timedelta(seconds=25))
EXACT_MS = millis(make_runs(2)[1].start_time)

FILTERS = [
    "",
    "metrics.acc > 0.5",
    "metrics.acc >= 0.5",
    "metrics.acc < 0.5",
    "metrics.acc <= 0.37",
    "metrics.acc = 0.37",
    "metrics.acc != 0.37",
    "metrics.acc IN (0.37, 0.74, 0.11)",
    "metrics.acc NOT IN (0.37, 0.74)",
    "metrics.acc IS NULL",
    "metrics.acc IS NOT NULL",
    "metrics.loss > 1e999",
    "metrics.loss >= 1e999",
    "metrics.`val loss` <= 1.5",
    'metrics."val loss" > 2 AND metrics.acc < 0.9',
    "params.lr = '0.01'",
    "params.lr != '0.01'",
    "params.lr > '0.01'",
    "params.lr >= '0.01'",
    "params.lr < '0.01'",
    "params.lr <= '1e-4'",
    "params.optimizer LIKE 'a%'",
    "params.optimizer ILIKE 'a%'",
    "params.optimizer IN ('adam', 'sgd')",
    "params.optimizer NOT IN ('adam')",
    "params.lr IS NULL",
    "params.lr IS NOT NULL",
    "params.`my key` = 'v3'",
    "params.model.type LIKE 'cnn-%'",
    "params.model.type LIKE 'cnn_small'",
    "tags.team = 'a'",
    "tags.team != 'a'",
    "tags.team IS NULL",
    "tags.note = 'it''s'",
    'tags.note = "say ""hi"""',
    "tags.note LIKE '\\%\\_%'",
    "tags.note LIKE '%\\\\'",
    "tags.note ILIKE 'PLAIN'",
    "tags.note < 'Plain'",
    "tags.mlflow.source.type = 'NOTEBOOK'",
    "tags.mlflow.runName = 'alpha'",
    "tags.`mlflow.runName` LIKE '%a%'",
    "attributes.status = 'FINISHED'",
    "status IN ('FAILED', 'KILLED')",
    "status != 'RUNNING'",
    "run_name LIKE '50\\%%'",
    "attributes.run_name ILIKE 'alpha%'",
    "run_id IN ('r001', 'r002', 'r100', 'nope')",
    "attributes.run_id NOT IN ('r001')",
    "run_id > 'r150'",
    f"start_time > {START_MS}",
    f"attributes.start_time <= {START_MS}",
    f"start_time = {EXACT_MS}",
    f"start_time IN ({EXACT_MS}, {START_MS})",
    "start_time IS NULL",
    "end_time IS NULL",
    "end_time IS NOT NULL",
    f"end_time > {START_MS} AND start_time < {START_MS}",
    "experiment_id = 'e2'",
    "user_id != 'ada'",
    "artifact_uri LIKE 'file:///artifacts/2/%'",
    "lifecycle_stage = 'active'",
    "metrics.acc > 0.3 and params.lr = '0.01' and tags.team != 'b' and status = 'FINISHED'",
    "metrics.acc > 0.9 OR params.optimizer = 'Adam'",
    "(metrics.acc > 0.9 OR params.optimizer = 'Adam') AND (tags.team = 'a' OR tags.team IS NULL)",
    "params.lr = '0.01' AND (run_name = 'alpha' OR (run_name = 'beta' AND user_id = 'ada'))",
]

VIEWS = {
    tracking_pb2.VIEW_TYPE_UNSPECIFIED: ("active",),
    tracking_pb2.VIEW_TYPE_ACTIVE_ONLY: ("active",),
    tracking_pb2.VIEW_TYPE_DELETED_ONLY: ("deleted",),
    tracking_pb2.VIEW_TYPE_ALL: ("active", "deleted"),
}


@pytest.fixture
def runs(pg: psycopg.Connection[Any]) -> list[RefRun]:
    data = make_runs()
    insert_runs(pg, data)
    return data


def search_all(
    stub: query_pb2_grpc.QueryServiceStub, page_size: int = 1000, **fields: Any
) -> list[str]:
    ids: list[str] = []
    token = ""
    while True:
        request = query_pb2.SearchRunsRequest(
            experiment_ids=SEARCHED, page_size=page_size, page_token=token, **fields
        )
        reply = stub.SearchRuns(request, timeout=10)
        ids += [r.info.run_id for r in reply.runs]
        token = reply.next_page_token
        if not token:
            return ids


def expected(
    runs: list[RefRun], text: str, order_by: list[str] | None = None, view: int = 0
) -> list[str]:
    expression = parse_filter(text)
    stages = VIEWS[view]  # type: ignore[index]
    chosen = [
        r
        for r in runs
        if r.experiment_id in SEARCHED and r.lifecycle_stage in stages and matches(expression, r)
    ]
    return [r.run_id for r in ordered(chosen, parse_order_by(order_by or []))]


def test_every_operator_and_combination_matches_the_reference(
    runs: list[RefRun], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    for text in FILTERS:
        want = expected(runs, text)
        assert search_all(stub, filter=text) == want, text
    # the filters are not vacuous: most select some runs and leave others out
    sizes = [len(expected(runs, text)) for text in FILTERS]
    assert sum(0 < size < len(expected(runs, "")) for size in sizes) >= len(FILTERS) - 8


def test_run_view_types(runs: list[RefRun], stub: query_pb2_grpc.QueryServiceStub) -> None:
    for view in VIEWS:
        for text in ("", "params.lr = '0.01'", "lifecycle_stage = 'deleted'"):
            found = search_all(stub, filter=text, run_view_type=view)
            assert found == expected(runs, text, view=view), (view, text)
    assert search_all(stub, run_view_type=tracking_pb2.VIEW_TYPE_DELETED_ONLY)


ORDERINGS = [
    ["metrics.acc DESC"],
    ["metrics.acc"],
    ["metrics.acc ASC", "params.lr DESC"],
    ["params.lr", "metrics.`val loss` DESC", "attributes.run_name"],
    ["tags.team DESC", "status"],
    ["start_time ASC"],
    ["attributes.end_time DESC", "run_id DESC"],
    ["tags.mlflow.runName", "metrics.loss DESC"],
    ["params.missing DESC"],
]


def test_order_by_several_keys_with_missing_values_last_and_paging(
    runs: list[RefRun], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    for order_by in ORDERINGS:
        want = expected(runs, "metrics.loss >= 0", order_by)
        assert search_all(stub, filter="metrics.loss >= 0", order_by=order_by) == want, order_by
        paged = search_all(stub, page_size=7, filter="metrics.loss >= 0", order_by=order_by)
        assert paged == want and len(set(paged)) == len(paged), order_by


def test_default_order_pages_by_keyset_with_a_filter(
    runs: list[RefRun], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    text = "params.optimizer != 'sgd'"
    assert search_all(stub, page_size=6, filter=text) == expected(runs, text)
    ascending = search_all(
        stub, page_size=6, filter=text, start_time_order=query_pb2.SORT_ORDER_ASCENDING
    )
    chosen = [r for r in runs if r.run_id in set(ascending)]
    assert ascending == [r.run_id for r in ordered(chosen, (), start_ascending=True)]


MALICIOUS = [
    "params.lr = '0.01'; DROP TABLE runs",
    "params.lr = '0.01' -- and more",
    "params.lr = '0.01' /* comment */",
    "params.lr = '0.01'' OR ''1''=''1'",
    "params.lr = '' OR 1=1 --'",
    "tags.`team` = 'a' OR `1`=`1`",
    "metrics.acc > 0 UNION SELECT * FROM runs",
    "params.`lr'; DELETE FROM params; --` = 'x'",
    "params.lr = '\x00'",
    "params.lr LIKE '\\'",
    "run_id IN ('a'); SELECT pg_sleep(10); --')",
    "params.lr = $$0.01$$",
    "params.lr = E'\\x27'",
    "tags.note = '%_\\'",
    "status = 'FINISHED' AND",
    "((((((((((status = 'FINISHED'))))))))))",
    "metrics.acc > 1e999999",
    "start_time > 99999999999999999999999999",
    "metrics.acc > 0x10",
    "attributes.`status` = 'FINISHED'",
    "tags.\"note\" = 'it''s'",
    "params.lr = '" + "x" * 5000 + "'",
]


def invalid_or_correct(
    runs: list[RefRun], stub: query_pb2_grpc.QueryServiceStub, text: str
) -> bool:
    """The service answers INVALID_ARGUMENT exactly when the parser rejects the text, else
    the reference result; True when the filter was valid."""
    try:
        want = expected(runs, text)
    except InvalidArgument:
        with pytest.raises(grpc.RpcError) as raised:
            search_all(stub, filter=text)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, text
        assert "filter: at position" in str(raised.value.details()), text
        return False
    assert search_all(stub, filter=text) == want, text
    return True


def test_malicious_filters_are_invalid_or_correct(
    runs: list[RefRun], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    valid = [invalid_or_correct(runs, stub, text) for text in MALICIOUS]
    assert 0 < sum(valid) < len(valid)
    assert len(search_all(stub)) == len(expected(runs, ""))  # nothing was dropped


SYNTAX_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"filter": "metrics.acc foo 1"}, "filter: at position 12, expected a comparison"),
    ({"filter": "params.lr = 0.01"}, "filter: at position 12, expected a quoted string"),
    ({"filter": "metrics.acc LIKE 'x'"}, "operator LIKE is not valid for metrics.acc"),
    ({"filter": "color = 'red'"}, "filter: at position 0, expected an attribute"),
    ({"order_by": ["metrics.acc UP"]}, "order_by[0]: at position 12, expected ASC, DESC"),
    ({"order_by": ["params.lr", "bogus"]}, "order_by[1]: at position 0"),
    ({"run_view_type": 9}, "unknown run_view_type 9"),
]


def test_syntax_errors_name_the_position(
    runs: list[RefRun], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    for fields, message in SYNTAX_ERRORS:
        with pytest.raises(grpc.RpcError) as raised:
            stub.SearchRuns(query_pb2.SearchRunsRequest(experiment_ids=SEARCHED, **fields))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in str(raised.value.details())


def test_a_page_token_belongs_to_its_query(
    runs: list[RefRun], stub: query_pb2_grpc.QueryServiceStub
) -> None:
    first = stub.SearchRuns(
        query_pb2.SearchRunsRequest(experiment_ids=SEARCHED, page_size=3, order_by=["run_id"])
    )
    other = query_pb2.SearchRunsRequest(
        experiment_ids=SEARCHED,
        page_size=3,
        order_by=["run_id DESC"],
        page_token=first.next_page_token,
    )
    with pytest.raises(grpc.RpcError) as raised:
        stub.SearchRuns(other)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
