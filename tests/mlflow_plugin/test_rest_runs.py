"""MLflow's REST semantics for runs and their logging, from `mlflow server` over Tracklog.

How these tests work: tests/mlflow_plugin/rest.py.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.entities import Param, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_USER

from tests.mlflow_plugin.rest import API, RestServer, refused

pytestmark = pytest.mark.integration


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


def test_bad_logging_requests_answer_400(rest_server: RestServer, client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment("bad-logging")).info.run_id
    metric = {"run_id": run_id, "key": "m", "value": 1, "timestamp": 5, "step": 2}
    log_metric = f"{API}/runs/log-metric"
    refused(
        rest_server.post(log_metric, {**metric, "run_id": 31}),
        "Invalid value 31 for parameter 'run_id' supplied",
    )
    refused(
        rest_server.post(log_metric, {**metric, "key": 31}),
        "Invalid value 31 for parameter 'key' supplied",
    )
    refused(
        rest_server.post(log_metric, {**metric, "step": "foo"}), "for parameter 'step' supplied"
    )
    refused(
        rest_server.post(log_metric, {**metric, "timestamp": "foo"}), "for parameter 'timestamp'"
    )
    refused(
        rest_server.post(log_metric, {**metric, "run_id": None}),
        "Missing value for required parameter 'run_id'",
    )
    refused(
        rest_server.post(log_metric, {**metric, "key": None}),
        "Missing value for required parameter 'key'",
    )

    log_param = f"{API}/runs/log-parameter"
    refused(
        rest_server.post(log_param, {"run_id": 31, "key": "p", "value": "1"}),
        "Invalid value 31 for parameter 'run_id'",
    )
    refused(
        rest_server.post(log_param, {"run_id": run_id, "key": 31, "value": "1"}),
        "Invalid value 31 for parameter 'key'",
    )

    set_tag = f"{API}/runs/set-tag"
    refused(
        rest_server.post(set_tag, {"run_id": run_id, "key": "t", "value": 41}),
        "Invalid value 41 for parameter 'value'",
    )
    refused(
        rest_server.post(set_tag, {"run_id": run_id, "value": "v"}),
        "Missing value for required parameter 'key'",
    )
    assert rest_server.post(set_tag, {"run_uuid": run_id, "key": "old-style", "value": "v"}).ok
    assert client.get_run(run_id).data.tags["old-style"] == "v"

    log_batch = f"{API}/runs/log-batch"
    for field in ("metrics", "params", "tags"):
        refused(
            rest_server.post(log_batch, {"run_id": run_id, field: "foo"}),
            f"for parameter '{field}' supplied",
        )
    refused(
        rest_server.post(log_batch, {"run_id": run_id, "metrics": [{"key": "mae", "value": 2.5}]}),
        "Missing value for required parameter 'metrics[0].timestamp'",
    )
    stepless = [{"key": "mae", "value": 2.5, "timestamp": 123456789}]
    assert rest_server.post(log_batch, {"run_id": run_id, "metrics": stepless}).ok
    many = [{"key": f"m{i}", "value": 1.0, "timestamp": 1, "step": 0} for i in range(1001)]
    refused(
        rest_server.post(log_batch, {"run_id": run_id, "metrics": many}), "at most 1000 metrics"
    )
    params = [{"key": f"p{i}", "value": "v"} for i in range(101)]
    refused(rest_server.post(log_batch, {"run_id": run_id, "params": params}), "at most 100 params")

    client.log_param(run_id, "once", "1")
    refused(
        rest_server.post(log_param, {"run_id": run_id, "key": "once", "value": "2"}),
        "Changing param values is not allowed",
    )
    assert rest_server.post(log_param, {"run_id": run_id, "key": "once", "value": "1"}).ok

    log_inputs = f"{API}/runs/log-inputs"
    refused(
        rest_server.post(log_inputs, {"datasets": []}),
        "Missing value for required parameter 'run_id'",
    )
    refused(
        rest_server.post(log_inputs, {"run_id": run_id, "datasets": "x"}),
        "for parameter 'datasets'",
    )
    assert rest_server.post(log_inputs, {"run_id": run_id}).ok  # MLflow 3: datasets or models


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


def test_refusals_carry_mlflows_codes(rest_server: RestServer, client: MlflowClient) -> None:
    experiment_id = client.create_experiment("refusals")
    taken = rest_server.post(f"{API}/experiments/create", {"name": "refusals"})
    assert (taken.status_code, taken.json()["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
    missing = rest_server.get(f"{API}/experiments/get", experiment_id="987654321")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    no_run = rest_server.get(f"{API}/runs/get", run_id="0123456789abcdef0123456789abcdef")
    assert (no_run.status_code, no_run.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert "not found" in no_run.json()["message"]
    bad_filter = rest_server.post(
        f"{API}/runs/search", {"experiment_ids": [experiment_id], "filter": "metrics.acc >>> 1"}
    )
    assert (bad_filter.status_code, bad_filter.json()["error_code"]) == (
        400,
        "INVALID_PARAMETER_VALUE",
    )

    run_id = client.create_run(experiment_id).info.run_id
    duplicated = [{"key": "p", "value": "1"}, {"key": "p", "value": "2"}]
    refused(
        rest_server.post(f"{API}/runs/log-batch", {"run_id": run_id, "params": duplicated}),
        "Duplicate parameter keys have been submitted",
    )
    client.delete_experiment(experiment_id)
    refused(
        rest_server.post(f"{API}/runs/create", {"experiment_id": experiment_id}),
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


def test_run_lifecycle_rules(rest_server: RestServer, client: MlflowClient) -> None:
    experiment_id = client.create_experiment("run-rules")
    run_id = client.create_run(experiment_id).info.run_id
    client.set_terminated(run_id, end_time=12345)
    assert client.get_run(run_id).info.end_time == 12345
    client.log_metric(run_id, "after-the-end", 1.0)  # a finished run still takes data
    client.set_tag(run_id, "late", "yes")
    assert client.get_run(run_id).data.metrics == {"after-the-end": 1.0}

    killed = rest_server.post(f"{API}/runs/update", {"run_id": run_id, "status": "KILLED"})
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
        refused(rest_server.post(f"{API}/{path}", {"run_id": run_id, **payload}), "must be in the")
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"

    missing = "0123456789abcdef0123456789abcdef"
    for path in ("runs/delete", "runs/restore"):
        reply = rest_server.post(f"{API}/{path}", {"run_id": missing})
        assert (reply.status_code, reply.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_values_mlflow_refuses(rest_server: RestServer, client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment("refused-values")).info.run_id
    log_batch = f"{API}/runs/log-batch"
    long_param = [{"key": "long", "value": "x" * 6001}]
    long_tag = [{"key": "long", "value": "y" * 8001}]
    truncated = rest_server.post(
        log_batch, {"run_id": run_id, "params": long_param, "tags": long_tag}
    )
    assert truncated.status_code == 200, truncated.text  # cut to MLflow's limits
    bad_key = [{"key": "../up", "value": "v"}]
    refused(rest_server.post(log_batch, {"run_id": run_id, "tags": bad_key}), "Invalid value")
    refused(rest_server.post(f"{API}/experiments/create", {"name": ""}), "name")
    missing = rest_server.get(
        f"{API}/experiments/get-by-name", experiment_name="nowhere to be found"
    )
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    data = client.get_run(run_id).data
    assert data.params == {"long": "x" * 6000} and data.tags["long"] == "y" * 8000
    assert "../up" not in data.tags
