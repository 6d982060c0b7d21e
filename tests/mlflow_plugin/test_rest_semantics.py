"""MLflow's REST semantics, as its own stores give them, from `mlflow server` over Tracklog.

One pipeline and one server for the module (starting them is the slow part); each test
works in experiments of its own, named after the test. Checks go through MLflow's client
where it is the caller that matters, and through raw HTTP where the status and message
of a refused request are the behaviour (MLflow answers 400 with its own words).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_PARENT_RUN_ID, MLFLOW_USER

from tests.conftest import Backends
from tests.mlflow_plugin.servers import mlflow_server, module_pipeline
from tracklog.mlflow import backend

pytestmark = pytest.mark.integration

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"


@dataclass(frozen=True, slots=True)
class Served:
    """The module's server: its URL, its working directory, and the experiments it listed
    before anything was written through it."""

    url: str
    cwd: Path
    first_listing: list[str]

    def post(self, path: str, payload: dict[str, Any]) -> requests.Response:
        return requests.post(f"{self.url}{path}", json=payload, timeout=60)

    def get(self, endpoint: str, **params: Any) -> requests.Response:
        return requests.get(f"{self.url}{endpoint}", params=params, timeout=60)


@pytest.fixture(scope="module")
def served(
    backends: Backends,
    tmp_root: Path,
    clickhouse_client: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("rest-semantics")
    with module_pipeline(backends, tmp_root, clickhouse_client, folder) as (_, _, uri):
        try:
            with mlflow_server(uri, folder, folder / "spool", workers=1) as url:
                listing = [e.name for e in MlflowClient(url).search_experiments()]
                yield Served(url, folder, listing)
        finally:
            backend.close_all()


@pytest.fixture
def client(served: Served) -> MlflowClient:
    return MlflowClient(served.url)


def refused(reply: requests.Response, message: str) -> None:
    """MLflow's answer to a bad request: HTTP 400 carrying its message."""
    assert reply.status_code == 400, reply.text
    assert reply.json()["error_code"] == "INVALID_PARAMETER_VALUE", reply.text
    assert message in reply.json()["message"], reply.text


# --- experiments ---------------------------------------------------------------------------


def test_the_default_experiment_is_there_from_the_start(served: Served) -> None:
    assert served.first_listing == ["Default"]


def test_experiment_lifecycle_tags_and_lookup_by_name(served: Served, client: MlflowClient) -> None:
    experiment_id = client.create_experiment(
        "lifecycle", artifact_location="my_location", tags={"k1": "v1", "k2": "v2"}
    )
    found = client.get_experiment(experiment_id)
    assert (found.name, found.tags) == ("lifecycle", {"k1": "v1", "k2": "v2"})
    # resolved against the server's working directory, a path as MLflow's stores keep it
    assert found.artifact_location == str(served.cwd / "my_location")
    by_name = client.get_experiment_by_name("lifecycle")
    assert by_name is not None and by_name.experiment_id == experiment_id
    assert client.get_experiment_by_name("no such experiment") is None

    client.set_experiment_tag(experiment_id, "k1", "changed")
    client.set_experiment_tag(experiment_id, "multi", "a\nb\nc")
    client.set_experiment_tag(experiment_id, "empty", "")
    client.delete_experiment_tag(experiment_id, "k2")
    other = client.create_experiment("lifecycle-other")
    assert client.get_experiment(other).tags == {}
    assert client.get_experiment(experiment_id).tags == {
        "k1": "changed",
        "multi": "a\nb\nc",
        "empty": "",
    }

    client.rename_experiment(experiment_id, "lifecycle-renamed")
    assert client.get_experiment(experiment_id).name == "lifecycle-renamed"
    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"


def test_bad_create_experiment_requests_answer_400(served: Served) -> None:
    create = f"{API}/experiments/create"
    refused(served.post(create, {"name": 123}), "Invalid value 123 for parameter 'name'")
    refused(served.post(create, {}), "Missing value for required parameter 'name'")
    refused(
        served.post(create, {"name": "x", "artifact_location": 9.0}),
        "Invalid value 9.0 for parameter 'artifact_location'",
    )
    refused(served.post(create, {"name": "x", "tags": "5"}), "for parameter 'tags'")


def test_search_experiments_filters_orders_pages_and_views(client: MlflowClient) -> None:
    prefix = "sx-"
    for name, tags in [("a", {"key": "value"}), ("ab", {"key": "vaLue"}), ("Abc", None)]:
        client.create_experiment(prefix + name, tags=tags)
        time.sleep(0.002)  # distinct creation times, as the order is by creation time

    def names(filter_string: str = "", **kwargs: Any) -> list[str]:
        where = f"name LIKE '{prefix}%'" + (f" AND {filter_string}" if filter_string else "")
        found = client.search_experiments(filter_string=where, **kwargs)
        return [e.name.removeprefix(prefix) for e in found]

    assert names() == ["Abc", "ab", "a"]  # newest first
    assert names(f"attribute.name = '{prefix}a'") == ["a"]
    assert names(f"attribute.name != '{prefix}a'") == ["Abc", "ab"]
    assert names(f"name LIKE '{prefix}a%'") == ["ab", "a"]  # LIKE is case-sensitive
    assert names(f"name ILIKE '{prefix}a%'") == ["Abc", "ab", "a"]
    assert names("tag.key = 'value'") == ["a"]
    assert names("tag.key != 'value'") == ["ab"]  # experiments without the tag do not match
    assert names("tag.key ILIKE '%alu%'") == ["ab", "a"]
    assert names(order_by=["name DESC"]) == ["ab", "a", "Abc"]  # byte order, not a locale's
    assert names(order_by=["name ASC"]) == ["Abc", "a", "ab"]

    where = f"name LIKE '{prefix}%'"
    first = client.search_experiments(filter_string=where, max_results=2)
    assert [e.name for e in first] == [prefix + "Abc", prefix + "ab"] and first.token
    rest = client.search_experiments(filter_string=where, max_results=2, page_token=first.token)
    assert [e.name for e in rest] == [prefix + "a"] and rest.token is None

    deleted = client.get_experiment_by_name(prefix + "ab")
    assert deleted is not None
    client.delete_experiment(deleted.experiment_id)
    assert names(view_type=ViewType.ACTIVE_ONLY) == ["Abc", "a"]
    assert names(view_type=ViewType.DELETED_ONLY) == ["ab"]
    assert names(view_type=ViewType.ALL) == ["Abc", "ab", "a"]


# --- runs ----------------------------------------------------------------------------------


def test_create_run_with_every_argument_and_with_none(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("create-run")
    tags = {MLFLOW_USER: "someone", MLFLOW_PARENT_RUN_ID: "7", "my": "tag"}
    created = client.create_run(experiment_id, start_time=456, run_name="my name", tags=tags)
    fetched = client.get_run(created.info.run_id)
    for run in (created, fetched):
        assert run.info.run_id == created.info.run_id
        assert run.info.experiment_id == experiment_id
        assert (run.info.user_id, run.info.start_time, run.info.run_name) == (
            "someone",
            456,
            "my name",
        )
        assert tags.items() <= run.data.tags.items()
        assert run.info.status == "RUNNING" and run.info.end_time is None
    assert [r.info for r in client.search_runs([experiment_id])] == [fetched.info]

    plain = client.get_run(client.create_run(experiment_id).info.run_id)
    assert plain.info.user_id == "unknown"
    assert plain.info.run_name  # a generated name
    assert plain.info.start_time > 456


def test_metrics_params_and_tags_read_back(client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment("logged")).info.run_id
    client.log_metric(run_id, "metric", 123.456, timestamp=789, step=2)
    client.log_metric(run_id, "nan", float("nan"))
    client.log_metric(run_id, "inf", float("inf"))
    client.log_metric(run_id, "-inf", -float("inf"))
    client.log_metric(run_id, "stepless", 987.654, timestamp=321)
    client.log_param(run_id, "param", "value")
    client.log_param(run_id, "empty-param", "")
    client.set_tag(run_id, "tag", "do-dah")
    client.set_tag(run_id, "empty-tag", "")
    client.log_batch(run_id, params=[Param("batch-empty", "")], tags=[RunTag("batch-empty", "")])

    run = client.get_run(run_id)
    metrics = run.data.metrics
    assert metrics["metric"] == 123.456 and metrics["stepless"] == 987.654
    assert math.isnan(metrics["nan"])
    assert metrics["inf"] >= 1.7976931348623157e308 and metrics["-inf"] <= -1.7976931348623157e308
    assert run.data.params == {"param": "value", "empty-param": "", "batch-empty": ""}
    assert {"tag": "do-dah", "empty-tag": "", "batch-empty": ""}.items() <= run.data.tags.items()

    [point] = client.get_metric_history(run_id, "metric")
    assert (point.key, point.value, point.timestamp, point.step) == ("metric", 123.456, 789, 2)
    [stepless] = client.get_metric_history(run_id, "stepless")
    assert (stepless.timestamp, stepless.step) == (321, 0)
    assert client.get_metric_history(run_id, "never logged") == []


def test_bad_logging_requests_answer_400(served: Served, client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment("bad-logging")).info.run_id
    metric = {"run_id": run_id, "key": "m", "value": 1, "timestamp": 5, "step": 2}
    log_metric = f"{API}/runs/log-metric"
    refused(
        served.post(log_metric, {**metric, "run_id": 31}),
        "Invalid value 31 for parameter 'run_id' supplied",
    )
    refused(
        served.post(log_metric, {**metric, "key": 31}),
        "Invalid value 31 for parameter 'key' supplied",
    )
    refused(served.post(log_metric, {**metric, "step": "foo"}), "for parameter 'step' supplied")
    refused(served.post(log_metric, {**metric, "timestamp": "foo"}), "for parameter 'timestamp'")
    refused(
        served.post(log_metric, {**metric, "run_id": None}),
        "Missing value for required parameter 'run_id'",
    )
    refused(
        served.post(log_metric, {**metric, "key": None}),
        "Missing value for required parameter 'key'",
    )

    log_param = f"{API}/runs/log-parameter"
    refused(
        served.post(log_param, {"run_id": 31, "key": "p", "value": "1"}),
        "Invalid value 31 for parameter 'run_id'",
    )
    refused(
        served.post(log_param, {"run_id": run_id, "key": 31, "value": "1"}),
        "Invalid value 31 for parameter 'key'",
    )

    set_tag = f"{API}/runs/set-tag"
    refused(
        served.post(set_tag, {"run_id": run_id, "key": "t", "value": 41}),
        "Invalid value 41 for parameter 'value'",
    )
    refused(
        served.post(set_tag, {"run_id": run_id, "value": "v"}),
        "Missing value for required parameter 'key'",
    )
    assert served.post(set_tag, {"run_uuid": run_id, "key": "old-style", "value": "v"}).ok
    assert client.get_run(run_id).data.tags["old-style"] == "v"

    log_batch = f"{API}/runs/log-batch"
    for field in ("metrics", "params", "tags"):
        refused(
            served.post(log_batch, {"run_id": run_id, field: "foo"}),
            f"for parameter '{field}' supplied",
        )
    refused(
        served.post(log_batch, {"run_id": run_id, "metrics": [{"key": "mae", "value": 2.5}]}),
        "Missing value for required parameter 'metrics[0].timestamp'",
    )
    stepless = [{"key": "mae", "value": 2.5, "timestamp": 123456789}]
    assert served.post(log_batch, {"run_id": run_id, "metrics": stepless}).ok
    many = [{"key": f"m{i}", "value": 1.0, "timestamp": 1, "step": 0} for i in range(1001)]
    refused(served.post(log_batch, {"run_id": run_id, "metrics": many}), "at most 1000 metrics")
    params = [{"key": f"p{i}", "value": "v"} for i in range(101)]
    refused(served.post(log_batch, {"run_id": run_id, "params": params}), "at most 100 params")

    client.log_param(run_id, "once", "1")
    refused(
        served.post(log_param, {"run_id": run_id, "key": "once", "value": "2"}),
        "Changing param values is not allowed",
    )
    assert served.post(log_param, {"run_id": run_id, "key": "once", "value": "1"}).ok

    log_inputs = f"{API}/runs/log-inputs"
    refused(
        served.post(log_inputs, {"datasets": []}), "Missing value for required parameter 'run_id'"
    )
    refused(
        served.post(log_inputs, {"run_id": run_id, "datasets": "x"}), "for parameter 'datasets'"
    )
    assert served.post(log_inputs, {"run_id": run_id}).ok  # MLflow 3: datasets or models


def test_delete_tag_and_its_refusals(client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment("delete-tag")).info.run_id
    client.set_tag(run_id, "taggity", "do-dah")
    client.delete_tag(run_id, "taggity")
    assert "taggity" not in client.get_run(run_id).data.tags
    with pytest.raises(MlflowException, match=r"Run .+ not found"):
        client.delete_tag("fake_run_id", "taggity")
    with pytest.raises(MlflowException, match="No tag with name: fakeTag"):
        client.delete_tag(run_id, "fakeTag")
    client.delete_run(run_id)
    with pytest.raises(MlflowException, match=f"The run {run_id} must be in"):
        client.delete_tag(run_id, "taggity")


def test_terminate_rename_delete_and_restore_a_run(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("run-lifecycle")
    finished = client.create_run(experiment_id).info.run_id
    failed = client.create_run(experiment_id).info.run_id
    before = int(time.time() * 1000)
    client.set_terminated(finished)
    client.set_terminated(failed, "FAILED")
    after = int(time.time() * 1000)
    for run_id, status in ((finished, "FINISHED"), (failed, "FAILED")):
        info = client.get_run(run_id).info
        assert info.status == status and before <= info.end_time <= after

    client.update_run(finished, name="renamed")
    info = client.get_run(finished).info
    assert (info.run_name, info.status) == ("renamed", "FINISHED")
    assert client.get_run(finished).data.tags["mlflow.runName"] == "renamed"

    client.delete_run(failed)
    assert client.get_run(failed).info.lifecycle_stage == "deleted"
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [finished]
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [failed]
    assert len(client.search_runs([experiment_id], run_view_type=ViewType.ALL)) == 2
    client.restore_run(failed)
    assert client.get_run(failed).info.lifecycle_stage == "active"


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


def test_bulk_history_keeps_every_point_in_run_order(served: Served, client: MlflowClient) -> None:
    bulk = f"{AJAX}/metrics/get-history-bulk"
    refused(served.get(bulk, metric_key="k"), "must specify at least one run_id")
    refused(
        served.get(bulk, run_id=[f"r{i}" for i in range(1000)], metric_key="k"),
        "cannot specify more than",
    )
    refused(served.get(bulk, run_id=["r"]), "must specify a metric_key")

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
        reply = served.get(bulk, run_id=run_ids, metric_key=key, **extra)
        assert reply.status_code == 200, reply.text
        return list(reply.json().get("metrics", []))

    assert fetched([first], "a") == rows(first, "a", 0.0)
    assert fetched([second], "b") == rows(second, "b", 1.0)
    both = sorted([(first, 0.0), (second, 1.0)])
    assert fetched([second, first, empty], "b") == [r for i, s in both for r in rows(i, "b", s)]
    assert fetched([first], "a", max_results=2) == rows(first, "a", 0.0)[:2]


def test_bulk_interval_refuses_bad_requests(served: Served) -> None:
    url = f"{AJAX}/metrics/get-history-bulk-interval"
    refused(served.get(url, metric_key="k"), "Missing value for required parameter 'run_ids'.")
    refused(
        served.get(url, run_ids=[f"r{i}" for i in range(1000)], metric_key="k"),
        "GetMetricHistoryBulkInterval request must specify at most 100 run_ids.",
    )
    refused(
        served.get(url, run_ids=["r"], metric_key="k", max_results=0),
        "max_results must be between 1 and",
    )
    refused(
        served.get(url, run_ids=["r"], metric_key=""),
        "Missing value for required parameter 'metric_key'",
    )
    refused(
        served.get(url, run_ids=["r"], metric_key="k", start_step=1, end_step=0),
        "end_step must be greater than start_step. ",
    )
    refused(
        served.get(url, run_ids=["r"], metric_key="k", start_step=1),
        "If either start step or end step are specified, both must be specified.",
    )


def test_bulk_interval_returns_short_histories_whole(served: Served, client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment("bulk-interval")).info.run_id
    client.log_batch(run_id, metrics=[Metric("m", float(i), 1, i) for i in range(10)])
    url = f"{AJAX}/metrics/get-history-bulk-interval"
    reply = served.get(
        url, run_ids=[run_id], metric_key="m", start_step=0, end_step=4, max_results=5
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["metrics"] == [
        {"key": "m", "value": float(i), "timestamp": 1, "step": i, "run_id": run_id}
        for i in range(5)
    ]
    whole = served.get(url, run_ids=[run_id], metric_key="m").json()["metrics"]
    assert [m["step"] for m in whole] == list(range(10))

    def sampled(max_results: int) -> list[int]:
        reply = served.get(url, run_ids=[run_id], metric_key="m", max_results=max_results)
        assert reply.status_code == 200, reply.text
        points = reply.json()["metrics"]
        assert all(p["value"] == float(p["step"]) for p in points)  # logged points, unmoved
        return [int(p["step"]) for p in points]

    assert sampled(1) == [9]  # the last point alone, as MLflow's SQL store answers
    assert sampled(2) == [0, 9]
    five = sampled(5)  # at most that many per run, the ends kept, in step order
    assert len(five) <= 5 and five[0] == 0 and five[-1] == 9 and five == sorted(set(five))


# --- datasets ------------------------------------------------------------------------------


def test_dataset_inputs_and_their_summaries(served: Served, client: MlflowClient) -> None:
    search = f"{AJAX}/experiments/search-datasets"
    refused(
        served.post(search, {}), "SearchDatasets request must specify at least one experiment_id."
    )
    refused(
        served.post(search, {"experiment_ids": [str(i) for i in range(100)]}),
        "cannot specify more than",
    )

    experiment_id = client.create_experiment("datasets")
    run_id = client.create_run(experiment_id).info.run_id
    dataset = Dataset(name="name1", digest="digest1", source_type="local", source="source1")
    training = [InputTag("foo", "baz"), InputTag(MLFLOW_DATASET_CONTEXT, "training")]
    plain = Dataset(name="name2", digest="digest2", source_type="code", source="source2")
    client.log_inputs(run_id, [DatasetInput(dataset, training), DatasetInput(plain, [])])

    inputs = client.get_run(run_id).inputs
    assert inputs is not None
    logged = {i.dataset.name: i for i in inputs.dataset_inputs}
    assert (logged["name1"].dataset.digest, logged["name1"].dataset.source) == (
        "digest1",
        "source1",
    )
    assert [(t.key, t.value) for t in logged["name1"].tags] == [
        ("foo", "baz"),
        (MLFLOW_DATASET_CONTEXT, "training"),
    ]
    assert logged["name2"].tags == []

    unused = client.create_run(experiment_id).info.run_id

    def matching(filter_string: str) -> list[str]:
        return [r.info.run_id for r in client.search_runs([experiment_id], filter_string)]

    assert matching("datasets.name = 'name1'") == [run_id]
    assert matching("dataset.context = 'training' AND dataset.digest LIKE 'dig%'") == [run_id]
    assert matching("datasets.name IN ('name2', 'other')") == [run_id]
    assert matching("datasets.name != 'name1'") == [run_id]  # another input of the run
    assert matching("datasets.context = 'validation'") == []
    assert unused not in matching("datasets.name NOT IN ('zzz')")  # it has no input at all
    with pytest.raises(MlflowException, match="dataset"):
        matching("datasets.schema = 'x'")

    reply = served.post(search, {"experiment_ids": [experiment_id]})
    assert reply.status_code == 200, reply.text
    summaries = sorted(reply.json()["dataset_summaries"], key=lambda s: str(s["name"]))
    assert summaries == [
        {
            "experiment_id": experiment_id,
            "name": "name1",
            "digest": "digest1",
            "context": "training",
        },
        {"experiment_id": experiment_id, "name": "name2", "digest": "digest2"},
    ]
    data = _graphql(
        served,
        f'mutation q {{ mlflowSearchDatasets(input: {{experimentIds: ["{experiment_id}"]}}) '
        "{ datasetSummaries { name digest context } } }",
    )
    found = data["mlflowSearchDatasets"]["datasetSummaries"]
    assert sorted((d["name"], d["digest"], d["context"]) for d in found) == [
        ("name1", "digest1", "training"),
        ("name2", "digest2", ""),
    ]


# --- artifacts -----------------------------------------------------------------------------


def test_artifacts_through_the_server(served: Served, client: MlflowClient, tmp_path: Path) -> None:
    experiment_id = client.create_experiment("artifacts")
    location = client.get_experiment(experiment_id).artifact_location
    assert location.rstrip("/").rsplit("/", 1)[-1] == experiment_id
    run = client.create_run(experiment_id)
    assert run.info.artifact_uri.startswith(location)
    run_id = run.info.run_id

    source = tmp_path / "src"
    source.mkdir()
    (source / "my.file").write_text("Hello, World!")
    client.log_artifact(run_id, str(source / "my.file"))
    client.log_artifacts(run_id, str(source), "dir")
    assert {a.path for a in client.list_artifacts(run_id)} == {"my.file", "dir"}
    assert [a.path for a in client.list_artifacts(run_id, "dir")] == ["dir/my.file"]
    copy = Path(client.download_artifacts(run_id, "dir", str(tmp_path / "down")))
    assert (copy / "my.file").read_text() == "Hello, World!"

    upload = requests.post(
        f"{served.url}{AJAX}/upload-artifact",
        params={"run_uuid": run_id, "path": "test.txt"},
        data="hello world",
        timeout=60,
    )
    assert upload.status_code == 200, upload.text
    got = served.get("/get-artifact", run_uuid=run_id, path="test.txt")
    assert (got.status_code, got.text) == (200, "hello world")
    for path in (f"{API}/artifacts/list", "/get-artifact"):
        refused(served.get(path, run_id=run_id, path="../path"), "Invalid path")


# --- registry sources and GraphQL ----------------------------------------------------------


def test_model_version_sources_are_checked(served: Served, client: MlflowClient) -> None:
    client.create_registered_model("sourced")
    run = client.create_run(client.create_experiment("sourced"))
    run_id, artifacts = run.info.run_id, run.info.artifact_uri
    create = f"{API}/model-versions/create"
    for good in (f"{artifacts}/model", f"{artifacts}/a///b", f"runs:/{run_id}/m"):
        reply = served.post(create, {"name": "sourced", "source": good, "run_id": run_id})
        assert reply.status_code == 200, (good, reply.text)
    for bad in (f"{artifacts}/../../../", f"{artifacts}/..%2f..%2fother"):
        reply = served.post(create, {"name": "sourced", "source": bad, "run_id": run_id})
        refused(reply, "If supplying a source as an http, https,")
    reply = served.post(create, {"name": "sourced", "source": "/tmp/somewhere"})
    refused(reply, "To use a local path as a model version")
    found = client.search_model_versions("name = 'sourced'")
    assert sorted(v.version for v in found) == ["1", "2", "3"]


def _graphql(served: Served, query: str) -> dict[str, Any]:
    reply = served.post("/graphql", {"query": query, "operationName": "q"})
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert not answer.get("errors"), answer
    return dict(answer["data"])


def test_graphql_reads_the_store(served: Served, client: MlflowClient, tmp_path: Path) -> None:
    experiment_id = client.create_experiment("graphql")
    client.create_registered_model("graphql-model")
    first = client.create_run(experiment_id, start_time=1).info.run_id
    second = client.create_run(experiment_id, start_time=2).info.run_id
    client.create_model_version("graphql-model", f"runs:/{first}/model", first)
    client.log_batch(first, metrics=[Metric("m", float(i), 7, i) for i in range(10)])
    (tmp_path / "test.txt").write_text("hello world")
    client.log_artifact(first, str(tmp_path / "test.txt"), "testDir")

    data = _graphql(
        served,
        f"""query q {{
          e: mlflowGetExperiment(input: {{experimentId: "{experiment_id}"}}) {{
            experiment {{ name }}
          }}
          r: mlflowGetRun(input: {{runId: "{first}"}}) {{
            run {{ info {{ status }} experiment {{ name }} modelVersions {{ name }} }}
          }}
          h: mlflowGetMetricHistoryBulkInterval(input: {{runIds: ["{first}"], metricKey: "m"}}) {{
            metrics {{ key step value }}
          }}
          a: mlflowListArtifacts(input: {{runId: "{first}", path: "testDir"}}) {{
            files {{ path isDir fileSize }}
          }}
        }}""",
    )
    assert data["e"]["experiment"]["name"] == "graphql"
    assert data["r"]["run"] == {
        "info": {"status": "RUNNING"},
        "experiment": {"name": "graphql"},
        "modelVersions": [{"name": "graphql-model"}],
    }
    assert data["h"]["metrics"] == [
        {"key": "m", "step": str(i), "value": float(i)} for i in range(10)
    ]
    assert data["a"]["files"] == [{"path": "testDir/test.txt", "isDir": False, "fileSize": "11"}]

    searched = _graphql(
        served,
        f'mutation q {{ mlflowSearchRuns(input: {{experimentIds: ["{experiment_id}"]}}) '
        "{ runs { info { runId } } } }",
    )
    assert searched["mlflowSearchRuns"]["runs"] == [
        {"info": {"runId": second}},
        {"info": {"runId": first}},
    ]


def test_refusals_carry_mlflows_codes(served: Served, client: MlflowClient) -> None:
    experiment_id = client.create_experiment("refusals")
    taken = served.post(f"{API}/experiments/create", {"name": "refusals"})
    assert (taken.status_code, taken.json()["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
    missing = served.get(f"{API}/experiments/get", experiment_id="987654321")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    no_run = served.get(f"{API}/runs/get", run_id="0123456789abcdef0123456789abcdef")
    assert (no_run.status_code, no_run.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert "not found" in no_run.json()["message"]
    bad_filter = served.post(
        f"{API}/runs/search", {"experiment_ids": [experiment_id], "filter": "metrics.acc >>> 1"}
    )
    assert (bad_filter.status_code, bad_filter.json()["error_code"]) == (
        400,
        "INVALID_PARAMETER_VALUE",
    )

    run_id = client.create_run(experiment_id).info.run_id
    duplicated = [{"key": "p", "value": "1"}, {"key": "p", "value": "2"}]
    refused(
        served.post(f"{API}/runs/log-batch", {"run_id": run_id, "params": duplicated}),
        "Duplicate parameter keys have been submitted",
    )
    client.delete_experiment(experiment_id)
    refused(
        served.post(f"{API}/runs/create", {"experiment_id": experiment_id}),
        f"The experiment {experiment_id} must be in the 'active' state",
    )
    client.restore_experiment(experiment_id)


def test_the_latest_metric_is_the_one_at_the_highest_step(client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment("latest")).info.run_id
    client.log_metric(run_id, "m", 1.0, timestamp=10, step=5)
    client.log_metric(run_id, "m", 9.0, timestamp=20, step=2)  # later, but at a lower step
    client.log_metric(run_id, "same-step", 3.0, timestamp=10, step=1)
    client.log_metric(run_id, "same-step", 2.0, timestamp=30, step=1)  # same step, later
    client.log_metric(run_id, "tie", 4.0, timestamp=10, step=1)
    client.log_metric(run_id, "tie", 7.0, timestamp=10, step=1)  # same step and time: larger
    metrics = client.get_run(run_id).data.metrics
    assert (metrics["m"], metrics["same-step"], metrics["tie"]) == (1.0, 2.0, 7.0)
    found = client.search_runs([client.get_run(run_id).info.experiment_id], "metrics.m = 1")
    assert [r.info.run_id for r in found] == [run_id]


def test_run_lifecycle_rules(served: Served, client: MlflowClient) -> None:
    experiment_id = client.create_experiment("run-rules")
    run_id = client.create_run(experiment_id).info.run_id
    client.set_terminated(run_id, end_time=12345)
    assert client.get_run(run_id).info.end_time == 12345
    client.log_metric(run_id, "after-the-end", 1.0)  # a finished run still takes data
    client.set_tag(run_id, "late", "yes")
    assert client.get_run(run_id).data.metrics == {"after-the-end": 1.0}

    killed = served.post(f"{API}/runs/update", {"run_id": run_id, "status": "KILLED"})
    assert killed.status_code == 200, killed.text
    assert killed.json()["run_info"]["status"] == "KILLED"
    assert client.get_run(run_id).info.status == "KILLED"

    client.delete_run(run_id)
    writes: list[tuple[str, dict[str, Any]]] = [
        ("runs/log-metric", {"key": "m", "value": 1, "timestamp": 1}),
        ("runs/set-tag", {"key": "t", "value": "v"}),
        ("runs/log-parameter", {"key": "p", "value": "v"}),
    ]
    for path, payload in writes:
        refused(served.post(f"{API}/{path}", {"run_id": run_id, **payload}), "must be in the")
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"

    missing = "0123456789abcdef0123456789abcdef"
    for path in ("runs/delete", "runs/restore"):
        reply = served.post(f"{API}/{path}", {"run_id": missing})
        assert (reply.status_code, reply.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_experiment_rules(served: Served, client: MlflowClient) -> None:
    first = client.create_experiment("rules-one")
    client.create_experiment("rules-two")
    taken = served.post(
        f"{API}/experiments/update", {"experiment_id": first, "new_name": "rules-two"}
    )
    assert (taken.status_code, taken.json()["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
    with pytest.raises(MlflowException, match="No tag with name: absent"):
        client.delete_experiment_tag(first, "absent")

    kept, alone = (client.create_run(first).info.run_id for _ in range(2))
    client.delete_run(alone)
    client.delete_experiment(first)  # deletes its runs (MLflow 3's SQL store)...
    assert client.search_runs([first]) == []
    deleted = client.search_runs([first], run_view_type=ViewType.DELETED_ONLY)
    assert sorted(r.info.run_id for r in deleted) == sorted([kept, alone])
    client.restore_experiment(first)  # ...and restores those, not one deleted before
    assert [r.info.run_id for r in client.search_runs([first])] == [kept]


def test_history_pages_through_rest(served: Served, client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment("history-pages")).info.run_id
    client.log_batch(run_id, metrics=[Metric("m", float(i), 100 + i, i) for i in range(7)])
    client.log_metric(run_id, "nan", float("nan"), timestamp=5, step=3)
    url = f"{API}/metrics/get-history"
    steps, token = [], ""
    while True:
        page = served.get(url, run_id=run_id, metric_key="m", max_results=3, page_token=token)
        assert page.status_code == 200, page.text
        steps.append([int(m["step"]) for m in page.json()["metrics"]])
        token = page.json().get("next_page_token", "")
        if not token:
            break
    assert steps == [[0, 1, 2], [3, 4, 5], [6]]
    [nan] = served.get(url, run_id=run_id, metric_key="nan").json()["metrics"]
    assert nan["value"] == "NaN" and (nan["timestamp"], nan["step"]) == (5, 3)
    missing = served.get(url, run_id="0123456789abcdef0123456789abcdef", metric_key="m")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_values_mlflow_refuses(served: Served, client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment("refused-values")).info.run_id
    log_batch = f"{API}/runs/log-batch"
    long_param = [{"key": "long", "value": "x" * 6001}]
    long_tag = [{"key": "long", "value": "y" * 8001}]
    truncated = served.post(log_batch, {"run_id": run_id, "params": long_param, "tags": long_tag})
    assert truncated.status_code == 200, truncated.text  # cut to MLflow's limits
    bad_key = [{"key": "../up", "value": "v"}]
    refused(served.post(log_batch, {"run_id": run_id, "tags": bad_key}), "Invalid value")
    refused(served.post(f"{API}/experiments/create", {"name": ""}), "name")
    missing = served.get(f"{API}/experiments/get-by-name", experiment_name="nowhere to be found")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    data = client.get_run(run_id).data
    assert data.params == {"long": "x" * 6000} and data.tags["long"] == "y" * 8000
    assert "../up" not in data.tags


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


def test_fluent_log_input_over_the_server(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    import pandas as pd
    from mlflow.data.pandas_dataset import from_pandas

    # the fluent API's active experiment goes back to what it was after the test
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    frame = pd.DataFrame([[1, 2, 3], [1, 2, 3]], columns=["a", "b", "c"])
    source = tmp_path / "frame.csv"
    frame.to_csv(source)
    dataset = from_pandas(frame, source=str(source))
    mlflow.set_tracking_uri(served.url)
    try:
        mlflow.set_experiment("fluent-inputs")
        with mlflow.start_run() as run:
            mlflow.log_input(dataset, "train", {"foo": "baz"})
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    inputs = MlflowClient(served.url).get_run(run.info.run_id).inputs
    assert inputs is not None
    [logged] = inputs.dataset_inputs
    assert (logged.dataset.name, logged.dataset.digest) == (dataset.name, dataset.digest)
    assert logged.dataset.source_type == "local"
    assert json.loads(logged.dataset.source) == {"uri": str(source)}
    columns = json.loads(logged.dataset.schema or "{}")["mlflow_colspec"]
    assert [(c["name"], c["type"]) for c in columns] == [(n, "long") for n in "abc"]
    assert json.loads(logged.dataset.profile or "{}") == {"num_rows": 2, "num_elements": 6}
    assert [(t.key, t.value) for t in logged.tags] == [
        ("foo", "baz"),
        (MLFLOW_DATASET_CONTEXT, "train"),
    ]
