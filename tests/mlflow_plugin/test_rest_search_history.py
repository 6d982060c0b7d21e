"""MLflow's REST semantics for run search and metric history, from `mlflow server` over
Tracklog.

How these tests work: tests/mlflow_plugin/rest.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from tests.mlflow_plugin.rest import AJAX, API, RestServer, refused

pytestmark = pytest.mark.integration


# --- search --------------------------------------------------------------------------------


def test_search_runs_pages_ties_in_run_id_order(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("search-pages")
    runs = sorted(client.create_run(experiment_id, start_time=1).info.run_id for _ in range(10))
    pages, token = [], None
    for _ in range(3):
        page = client.search_runs([experiment_id], max_results=4, page_token=token)
        pages.append([r.info.run_id for r in page])
        token = page.token
    assert pages == [runs[0:4], runs[4:8], runs[8:]] and token is None
    with pytest.raises(
        MlflowException, match="Invalid value 123456789 for parameter 'max_results'"
    ):
        client.search_runs([experiment_id], max_results=123456789)


def test_search_runs_filters_and_orders(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("search-filters")
    made = {}
    for i, name in enumerate(["low", "mid", "high"]):
        run_id = client.create_run(experiment_id, run_name=name, start_time=1000 + i).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric("acc", 0.5 + i / 10, 1, 0)],
            params=[Param("depth", str(i))],
            tags=[RunTag("team", "a" if i else "b")],
        )
        made[name] = run_id

    def names(filter_string: str = "", order_by: list[str] | None = None) -> list[str]:
        found = client.search_runs([experiment_id], filter_string, order_by=order_by)
        return [r.info.run_name for r in found]

    assert names() == ["high", "mid", "low"]  # newest first
    assert names("metrics.acc > 0.55") == ["high", "mid"]
    assert names("params.depth = '0'") == ["low"]
    assert names("tags.team = 'a'", ["metrics.acc ASC"]) == ["mid", "high"]
    assert names("attributes.run_name = 'mid'") == ["mid"]
    assert names("run_name LIKE '%i%'") == ["high", "mid"]
    assert names(f"attributes.run_id IN ('{made['low']}', '{made['high']}')") == ["high", "low"]
    assert names("attributes.status = 'RUNNING'", ["params.depth DESC"]) == ["high", "mid", "low"]
    assert names(order_by=["attributes.start_time ASC"]) == ["low", "mid", "high"]


# --- metric history ------------------------------------------------------------------------

HISTORY_A = [(1, 2, 10.0), (1, 3, 11.0), (1, 3, 12.0), (2, 3, 12.0)]  # (timestamp, step, value)
HISTORY_B = [(7, -2, -100.0), (8, 0, 0.0), (8, 0, 1.0), (9, 1, 12.0)]


def test_bulk_history_keeps_every_point_in_run_order(
    rest_server: RestServer, client: MlflowClient
) -> None:
    bulk = f"{AJAX}/metrics/get-history-bulk"
    refused(rest_server.get(bulk, metric_key="k"), "must specify at least one run_id")
    refused(
        rest_server.get(bulk, run_id=[f"r{i}" for i in range(1000)], metric_key="k"),
        "cannot specify more than",
    )
    refused(rest_server.get(bulk, run_id=["r"]), "must specify a metric_key")

    experiment_id = client.create_experiment("bulk-history")
    first, second, empty = (client.create_run(experiment_id).info.run_id for _ in range(3))
    for run_id, shift in ((first, 0.0), (second, 1.0)):
        for key, history in (("a", HISTORY_A), ("b", HISTORY_B)):
            for timestamp, step, value in history:
                client.log_metric(run_id, key, value + shift, timestamp=timestamp, step=step)

    def rows(run_id: str, key: str, shift: float) -> list[dict[str, Any]]:
        points = HISTORY_A if key == "a" else HISTORY_B
        return [
            {"key": key, "timestamp": t, "step": s, "value": v + shift, "run_id": run_id}
            for t, s, v in points
        ]

    def fetched(run_ids: list[str], key: str, **extra: Any) -> list[dict[str, Any]]:
        reply = rest_server.get(bulk, run_id=run_ids, metric_key=key, **extra)
        assert reply.status_code == 200, reply.text
        return list(reply.json().get("metrics", []))

    assert fetched([first], "a") == rows(first, "a", 0.0)
    assert fetched([second], "b") == rows(second, "b", 1.0)
    both = sorted([(first, 0.0), (second, 1.0)])
    assert fetched([second, first, empty], "b") == [r for i, s in both for r in rows(i, "b", s)]
    assert fetched([first], "a", max_results=2) == rows(first, "a", 0.0)[:2]


def test_bulk_interval_refuses_bad_requests(rest_server: RestServer) -> None:
    url = f"{AJAX}/metrics/get-history-bulk-interval"
    refused(rest_server.get(url, metric_key="k"), "Missing value for required parameter 'run_ids'.")
    refused(
        rest_server.get(url, run_ids=[f"r{i}" for i in range(1000)], metric_key="k"),
        "GetMetricHistoryBulkInterval request must specify at most 100 run_ids.",
    )
    refused(
        rest_server.get(url, run_ids=["r"], metric_key="k", max_results=0),
        "max_results must be between 1 and",
    )
    refused(
        rest_server.get(url, run_ids=["r"], metric_key=""),
        "Missing value for required parameter 'metric_key'",
    )
    refused(
        rest_server.get(url, run_ids=["r"], metric_key="k", start_step=1, end_step=0),
        "end_step must be greater than start_step. ",
    )
    refused(
        rest_server.get(url, run_ids=["r"], metric_key="k", start_step=1),
        "If either start step or end step are specified, both must be specified.",
    )


def test_bulk_interval_returns_short_histories_whole(
    rest_server: RestServer, client: MlflowClient
) -> None:
    run_id = client.create_run(client.create_experiment("bulk-interval")).info.run_id
    client.log_batch(run_id, metrics=[Metric("m", float(i), 1, i) for i in range(10)])
    url = f"{AJAX}/metrics/get-history-bulk-interval"
    reply = rest_server.get(
        url, run_ids=[run_id], metric_key="m", start_step=0, end_step=4, max_results=5
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["metrics"] == [
        {"key": "m", "value": float(i), "timestamp": 1, "step": i, "run_id": run_id}
        for i in range(5)
    ]
    whole = rest_server.get(url, run_ids=[run_id], metric_key="m").json()["metrics"]
    assert [m["step"] for m in whole] == list(range(10))

    def sampled(max_results: int) -> list[int]:
        reply = rest_server.get(url, run_ids=[run_id], metric_key="m", max_results=max_results)
        assert reply.status_code == 200, reply.text
        points = reply.json()["metrics"]
        assert all(p["value"] == float(p["step"]) for p in points)  # logged points, unmoved
        return [int(p["step"]) for p in points]

    assert sampled(1) == [9]  # the last point alone, as MLflow's SQL store answers
    assert sampled(2) == [0, 9]
    five = sampled(5)  # at most that many per run, the ends kept, in step order
    assert len(five) <= 5 and five[0] == 0 and five[-1] == 9 and five == sorted(set(five))


def test_history_pages_through_rest(rest_server: RestServer, client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment("history-pages")).info.run_id
    client.log_batch(run_id, metrics=[Metric("m", float(i), 100 + i, i) for i in range(7)])
    client.log_metric(run_id, "nan", float("nan"), timestamp=5, step=3)
    url = f"{API}/metrics/get-history"
    steps, token = [], ""
    while True:
        page = rest_server.get(url, run_id=run_id, metric_key="m", max_results=3, page_token=token)
        assert page.status_code == 200, page.text
        steps.append([int(m["step"]) for m in page.json()["metrics"]])
        token = page.json().get("next_page_token", "")
        if not token:
            break
    assert steps == [[0, 1, 2], [3, 4, 5], [6]]
    [nan] = rest_server.get(url, run_id=run_id, metric_key="nan").json()["metrics"]
    assert nan["value"] == "NaN" and (nan["timestamp"], nan["step"]) == (5, 3)
    missing = rest_server.get(url, run_id="0123456789abcdef0123456789abcdef", metric_key="m")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_ordered_search_pages_and_the_run_name_tag(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("ordered-pages")
    for i in range(7):
        run_id = client.create_run(experiment_id, run_name=f"r{i}").info.run_id
        client.log_metric(run_id, "score", float((i * 3) % 7))
    names: list[str] = []
    token = None
    for _ in range(4):
        page = client.search_runs(
            [experiment_id], order_by=["metrics.score DESC"], max_results=3, page_token=token
        )
        names.extend(r.info.run_name for r in page)
        token = page.token
        if token is None:
            break
    assert names == [f"r{i}" for i in (2, 4, 6, 1, 3, 5, 0)]

    client.log_batch(run_id, tags=[RunTag("mlflow.runName", "renamed-by-tag")])
    assert client.get_run(run_id).info.run_name == "renamed-by-tag"
    found = client.search_runs([experiment_id], "attributes.run_name = 'renamed-by-tag'")
    assert [r.info.run_id for r in found] == [run_id]
