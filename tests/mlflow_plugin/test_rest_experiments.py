"""MLflow's REST semantics for experiments, from `mlflow server` over Tracklog.

How these tests work: tests/mlflow_plugin/rest.py.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from tests.mlflow_plugin.rest import API, RestServer, refused

pytestmark = pytest.mark.integration


# --- experiments ---------------------------------------------------------------------------


def test_the_default_experiment_is_there_from_the_start(rest_server: RestServer) -> None:
    assert rest_server.first_listing == ["Default"]


def test_experiment_lifecycle_tags_and_lookup_by_name(
    rest_server: RestServer, client: MlflowClient
) -> None:
    experiment_id = client.create_experiment(
        "lifecycle", artifact_location="my_location", tags={"k1": "v1", "k2": "v2"}
    )
    found = client.get_experiment(experiment_id)
    assert (found.name, found.tags) == ("lifecycle", {"k1": "v1", "k2": "v2"})
    # resolved against the server's working directory, a path as MLflow's stores keep it
    assert found.artifact_location == str(rest_server.cwd / "my_location")
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


def test_bad_create_experiment_requests_answer_400(rest_server: RestServer) -> None:
    create = f"{API}/experiments/create"
    refused(rest_server.post(create, {"name": 123}), "Invalid value 123 for parameter 'name'")
    refused(rest_server.post(create, {}), "Missing value for required parameter 'name'")
    refused(
        rest_server.post(create, {"name": "x", "artifact_location": 9.0}),
        "Invalid value 9.0 for parameter 'artifact_location'",
    )
    refused(rest_server.post(create, {"name": "x", "tags": "5"}), "for parameter 'tags'")


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


def test_experiment_rules(rest_server: RestServer, client: MlflowClient) -> None:
    first = client.create_experiment("rules-one")
    client.create_experiment("rules-two")
    taken = rest_server.post(
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
