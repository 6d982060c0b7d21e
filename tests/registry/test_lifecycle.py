"""The whole registry lifecycle through the SDK, the gRPC service, the real broker and the
Postgres projection (worker thread + server in-process)."""

from __future__ import annotations

import pytest

from tracklog import RegistryClient
from tracklog.registry.errors import NotFound
from tracklog.run import user_name

pytestmark = pytest.mark.integration


def test_models_versions_stages_aliases_rename_and_delete(client: RegistryClient) -> None:
    model = client.create_registered_model("fraud", tags={"team": "risk"}, description="first")
    assert (model.name, model.description, model.tags) == ("fraud", "first", {"team": "risk"})
    assert model.id and model.latest_versions == ()

    created = [
        client.create_model_version("fraud", f"s3://models/fraud/{i}", run_id=f"run{i}")
        for i in (1, 2, 3)
    ]
    assert [v.version for v in created] == [1, 2, 3]
    assert all(v.current_stage == "None" and v.status == "READY" for v in created)
    assert created[0].user_id == user_name()

    # descriptions and tags
    assert client.update_registered_model("fraud", "fraud scores").description == "fraud scores"
    assert client.update_model_version("fraud", 2, description="v2").description == "v2"
    client.set_registered_model_tag("fraud", "owner", "ana")
    client.delete_registered_model_tag("fraud", "team")
    assert client.get_registered_model("fraud").tags == {"owner": "ana"}
    client.set_model_version_tag("fraud", 1, "validated", "yes")
    client.set_model_version_tag("fraud", 1, "drop", "me")
    client.delete_model_version_tag("fraud", 1, "drop")
    assert client.get_model_version("fraud", 1).tags == {"validated": "yes"}

    # stages: archive_existing_versions moves the previous Production version to Archived
    assert client.transition_model_version_stage("fraud", 1, "production").current_stage == (
        "Production"
    )
    client.transition_model_version_stage("fraud", 2, "Staging")
    client.transition_model_version_stage("fraud", 3, "Production", archive_existing_versions=True)
    stages = {v: client.get_model_version("fraud", v).current_stage for v in (1, 2, 3)}
    assert stages == {1: "Archived", 2: "Staging", 3: "Production"}
    latest = client.get_latest_versions("fraud", stages=["Production", "staging"])
    assert [(v.version, v.current_stage) for v in latest] == [(3, "Production"), (2, "Staging")]
    assert [v.version for v in client.get_latest_versions("fraud")] == [2, 3, 1]
    assert {v.version for v in client.get_registered_model("fraud").latest_versions} == {1, 2, 3}

    # aliases: set, move atomically, get, delete
    client.set_registered_model_alias("fraud", "champion", 2)
    client.set_registered_model_alias("fraud", "champion", 3)
    client.set_registered_model_alias("fraud", "challenger", 2)
    assert client.get_model_version_by_alias("fraud", "champion").version == 3
    assert client.get_registered_model("fraud").aliases == {"champion": 3, "challenger": 2}
    assert client.get_model_version("fraud", 3).aliases == ("champion",)
    client.delete_registered_model_alias("fraud", "challenger")
    with pytest.raises(NotFound, match="no alias 'challenger'"):
        client.get_model_version_by_alias("fraud", "challenger")

    # models:/ URIs in all three forms (and latest)
    assert client.resolve_model_uri("models:/fraud/2") == "s3://models/fraud/2"
    assert client.resolve_model_uri("models:/fraud/production") == "s3://models/fraud/3"
    assert client.resolve_model_uri("models:/fraud/Staging") == "s3://models/fraud/2"
    assert client.resolve_model_uri("models:/fraud@champion") == "s3://models/fraud/3"
    assert client.resolve_model_uri("models:/fraud/latest") == "s3://models/fraud/3"

    # the audit trail: who, when, from, to
    history = client.get_model_version_history("fraud")
    changes = [(e.kind, e.version, e.alias, e.from_value, e.to_value) for e in history]
    assert changes == [
        ("stage", 1, "", "None", "Production"),
        ("stage", 2, "", "None", "Staging"),
        ("stage", 1, "", "Production", "Archived"),
        ("stage", 3, "", "None", "Production"),
        ("alias", 2, "champion", "", "2"),
        ("alias", 3, "champion", "2", "3"),
        ("alias", 2, "challenger", "", "2"),
        ("alias", 2, "challenger", "2", ""),
    ]
    assert all(e.actor == user_name() and e.timestamp > 0 and e.event_id for e in history)
    assert [e.to_value for e in client.get_model_version_history("fraud", 3)] == [
        "Production",
        "3",
    ]

    # rename keeps the id, versions and aliases; delete a version, then the model
    renamed = client.rename_registered_model("fraud", "fraud-detector")
    assert renamed.id == model.id and renamed.aliases == {"champion": 3}
    assert client.get_model_version_by_alias("fraud-detector", "champion").version == 3
    with pytest.raises(NotFound, match="registered model 'fraud' not found"):
        client.get_registered_model("fraud")
    client.delete_model_version("fraud-detector", 3)
    with pytest.raises(NotFound, match="version 3 of registered model 'fraud-detector'"):
        client.get_model_version("fraud-detector", 3)
    assert client.get_registered_model("fraud-detector").aliases == {}
    assert client.create_model_version("fraud-detector", "s3://m/4").version == 4  # never reused
    client.delete_registered_model("fraud-detector")
    with pytest.raises(NotFound, match="'fraud-detector' not found"):
        client.get_registered_model("fraud-detector")
    assert client.search_model_versions("name = 'fraud-detector'") == []


def test_search_with_like_ilike_tags_and_paging(client: RegistryClient) -> None:
    for name in ("fraud-a", "fraud-b", "Fraud-C", "churn"):
        client.create_registered_model(name, tags={"team": "risk" if "raud" in name else "cx"})
    like = client.search_registered_models("name LIKE 'fraud%'")
    assert [m.name for m in like] == ["fraud-a", "fraud-b"]
    ilike = client.search_registered_models("name ILIKE 'fraud%'")
    assert [m.name for m in ilike] == ["Fraud-C", "fraud-a", "fraud-b"]
    tagged = client.search_registered_models("tags.team = 'cx'")
    assert [m.name for m in tagged] == ["churn"]

    names, token, pages = [], "", 0
    while True:
        page = client.search_registered_models("name ILIKE '%'", max_results=2, page_token=token)
        names += [m.name for m in page]
        pages += 1
        token = page.token
        if not token:
            break
    assert names == ["Fraud-C", "churn", "fraud-a", "fraud-b"] and pages == 2

    for run in ("r1", "r2", "r1"):
        client.register_model(f"runs:/{run}/model", "churn")
    by_run = client.search_model_versions("run_id = 'r1'")
    assert [(v.name, v.version, v.source) for v in by_run] == [
        ("churn", 1, "runs:/r1/model"),
        ("churn", 3, "runs:/r1/model"),
    ]
    first = client.search_model_versions("name = 'churn'", max_results=2)
    rest = client.search_model_versions("name = 'churn'", max_results=2, page_token=first.token)
    assert [v.version for v in first] == [1, 2] and [v.version for v in rest] == [3]
    assert rest.token == ""
