"""MLflow's REST semantics for dataset inputs, artifacts, model-version sources and GraphQL,
from `mlflow server` over Tracklog.

How these tests work: tests/mlflow_plugin/rest.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from tests.mlflow_plugin.rest import AJAX, API, RestServer, refused

pytestmark = pytest.mark.integration


# --- datasets ------------------------------------------------------------------------------


def test_dataset_inputs_and_their_summaries(rest_server: RestServer, client: MlflowClient) -> None:
    search = f"{AJAX}/experiments/search-datasets"
    refused(
        rest_server.post(search, {}),
        "SearchDatasets request must specify at least one experiment_id.",
    )
    refused(
        rest_server.post(search, {"experiment_ids": [str(i) for i in range(100)]}),
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

    reply = rest_server.post(search, {"experiment_ids": [experiment_id]})
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
        rest_server,
        f'mutation q {{ mlflowSearchDatasets(input: {{experimentIds: ["{experiment_id}"]}}) '
        "{ datasetSummaries { name digest context } } }",
    )
    found = data["mlflowSearchDatasets"]["datasetSummaries"]
    assert sorted((d["name"], d["digest"], d["context"]) for d in found) == [
        ("name1", "digest1", "training"),
        ("name2", "digest2", ""),
    ]


# --- artifacts -----------------------------------------------------------------------------


def test_artifacts_through_the_server(
    rest_server: RestServer, client: MlflowClient, tmp_path: Path
) -> None:
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
        f"{rest_server.url}{AJAX}/upload-artifact",
        params={"run_uuid": run_id, "path": "test.txt"},
        data="hello world",
        timeout=60,
    )
    assert upload.status_code == 200, upload.text
    got = rest_server.get("/get-artifact", run_uuid=run_id, path="test.txt")
    assert (got.status_code, got.text) == (200, "hello world")
    for path in (f"{API}/artifacts/list", "/get-artifact"):
        refused(rest_server.get(path, run_id=run_id, path="../path"), "Invalid path")


# --- registry sources and GraphQL ----------------------------------------------------------


def test_model_version_sources_are_checked(rest_server: RestServer, client: MlflowClient) -> None:
    client.create_registered_model("sourced")
    run = client.create_run(client.create_experiment("sourced"))
    run_id, artifacts = run.info.run_id, run.info.artifact_uri
    create = f"{API}/model-versions/create"
    for good in (f"{artifacts}/model", f"{artifacts}/a///b", f"runs:/{run_id}/m"):
        reply = rest_server.post(create, {"name": "sourced", "source": good, "run_id": run_id})
        assert reply.status_code == 200, (good, reply.text)
    for bad in (f"{artifacts}/../../../", f"{artifacts}/..%2f..%2fother"):
        reply = rest_server.post(create, {"name": "sourced", "source": bad, "run_id": run_id})
        refused(reply, "If supplying a source as an http, https,")
    reply = rest_server.post(create, {"name": "sourced", "source": "/tmp/somewhere"})
    refused(reply, "To use a local path as a model version")
    found = client.search_model_versions("name = 'sourced'")
    assert sorted(v.version for v in found) == ["1", "2", "3"]


def _graphql(rest_server: RestServer, query: str) -> dict[str, Any]:
    reply = rest_server.post("/graphql", {"query": query, "operationName": "q"})
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert not answer.get("errors"), answer
    return dict(answer["data"])


def test_graphql_reads_the_store(
    rest_server: RestServer, client: MlflowClient, tmp_path: Path
) -> None:
    experiment_id = client.create_experiment("graphql")
    client.create_registered_model("graphql-model")
    first = client.create_run(experiment_id, start_time=1).info.run_id
    second = client.create_run(experiment_id, start_time=2).info.run_id
    client.create_model_version("graphql-model", f"runs:/{first}/model", first)
    client.log_batch(first, metrics=[Metric("m", float(i), 7, i) for i in range(10)])
    (tmp_path / "test.txt").write_text("hello world")
    client.log_artifact(first, str(tmp_path / "test.txt"), "testDir")

    data = _graphql(
        rest_server,
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
        rest_server,
        f'mutation q {{ mlflowSearchRuns(input: {{experimentIds: ["{experiment_id}"]}}) '
        "{ runs { info { runId } } } }",
    )
    assert searched["mlflowSearchRuns"]["runs"] == [
        {"info": {"runId": second}},
        {"info": {"runId": first}},
    ]


def test_fluent_log_input_over_the_server(
    rest_server: RestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
    mlflow.set_tracking_uri(rest_server.url)
    try:
        mlflow.set_experiment("fluent-inputs")
        with mlflow.start_run() as run:
            mlflow.log_input(dataset, "train", {"foo": "baz"})
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    inputs = MlflowClient(rest_server.url).get_run(run.info.run_id).inputs
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
