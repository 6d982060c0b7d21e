"""Version numbers under concurrency, conflicts seen only by the projection, and replay."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.e2e.pipeline import Pipeline, replay_from_offset_zero, running_pipeline, wait_until
from tests.e2e.snapshot import REGISTRY_TABLES, postgres_snapshot
from tracklog import RegistryClient
from tracklog.contract.settings import Settings
from tracklog.query.registry.writes import RegistryWrites
from tracklog.query.stores.postgres import open_pool
from tracklog.registry import errors
from tracklog.v1 import events_pb2 as pb

pytestmark = pytest.mark.integration


def test_concurrent_clients_get_distinct_consecutive_versions(pipeline: Pipeline) -> None:
    per_client, got, failures = 6, [], []
    lock = threading.Lock()

    def register(worker: int) -> None:
        try:
            with RegistryClient(pipeline.address, timeout=30) as client:
                for i in range(per_client):
                    version = client.register_model(f"s3://m/{worker}/{i}", "shared").version
                    with lock:
                        got.append(version)
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=register, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert sorted(got) == list(range(1, 2 * per_client + 1))
    with RegistryClient(pipeline.address) as client:
        stored = client.search_model_versions("name = 'shared'")
    assert [v.version for v in stored] == list(range(1, 2 * per_client + 1))


def test_a_conflict_only_the_projection_sees_is_answered(pipeline: Pipeline) -> None:
    # Two creates of one name with different ids pass the service's check together;
    # the projection keeps the first and records ALREADY_EXISTS for the second.
    pool = open_pool(pipeline.settings.postgres_dsn, max_size=2)
    writes = RegistryWrites(pipeline.settings.kafka, pool)
    try:
        writes.submit("a" * 32, pb.RegisteredModelCreated(name="dup"))
        with pytest.raises(errors.AlreadyExists, match="registered model 'dup' already exists"):
            writes.submit("b" * 32, pb.RegisteredModelCreated(name="dup"))
        with pytest.raises(errors.NotFound, match="not found"):
            writes.submit("c" * 32, pb.RegisteredModelDeleted())
    finally:
        writes.close()
        pool.close()


def test_replaying_the_topic_leaves_the_registry_identical(
    settings: Settings, clickhouse_client: Any
) -> None:
    with running_pipeline(settings, clickhouse_client) as pipeline:
        with RegistryClient(pipeline.address, timeout=30) as client:
            client.create_registered_model("gone", tags={"a": "1"})
            client.create_model_version("gone", "s3://gone/1")
            client.delete_registered_model("gone")
            client.create_registered_model("gone")  # same name again, after the delete
            for i in range(3):
                client.register_model(f"runs:/run{i}/model", "fraud", tags={"i": i})
            client.set_registered_model_tag("fraud", "team", "risk")
            client.transition_model_version_stage("fraud", 1, "Production")
            client.transition_model_version_stage("fraud", 2, "Production", True)
            client.set_registered_model_alias("fraud", "champion", 1)
            client.set_registered_model_alias("fraud", "champion", 2)
            client.delete_model_version("fraud", 3)
            client.rename_registered_model("fraud", "fraud2")
            client.create_model_version("fraud2", "s3://fraud/4", model_id="m-" + "4" * 32)
            assert client.get_model_version("fraud2", 4).model_id == "m-" + "4" * 32
        wait_until(pipeline.worker.drained, what="the first worker to drain")
    before = postgres_snapshot(settings.postgres_dsn, REGISTRY_TABLES)
    assert sorted(row[1] for row in before["model_versions"]) == [1, 2, 4]
    assert len(before["registry_audit"]) == 5 and len(before["registered_models"]) == 2

    replay_from_offset_zero(settings, clickhouse_client)
    assert postgres_snapshot(settings.postgres_dsn, REGISTRY_TABLES) == before
