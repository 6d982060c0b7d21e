"""The ClickHouse writer's SQL on a cluster: the DDL of the cluster, high-water marks read
from every replica, inserts through the Distributed table; one node's SQL as before.

chDB cannot run cluster SQL (no remote_servers, no Keeper), so a recording client stands
in for ClickHouse; ClickHouse's own parser checks the high-water query."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.ingest.events import metrics_logged
from tests.proto.contract.test_clickhouse_schema import parsed_by_clickhouse
from tracklog.contract.read_model import clickhouse_schema as schema
from tracklog.contract.settings import Settings
from tracklog.ingest.projectors.clickhouse import project_at
from tracklog.ingest.records import Position
from tracklog.ingest.writers.batch import BatchWriter
from tracklog.ingest.writers.clickhouse import ClickHouseWriter

DATABASE = "tracklog"
CLUSTER = "metrics"
TOPIC = "events@" + "ab" * 16


@dataclass(slots=True)
class Answer:
    result_rows: list[tuple[Any, ...]]


@dataclass(slots=True)
class RecordingClient:
    """Records what the writer sends; answers high-water reads with `stored`."""

    stored: list[tuple[Any, ...]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    inserts: list[str] = field(default_factory=list)

    def command(self, sql: str) -> None:
        self.commands.append(sql)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> Answer:
        self.queries.append(sql)
        return Answer(self.stored)

    def raw_insert(self, table: str, columns: list[str], data: Any, fmt: str) -> None:
        self.inserts.append(table)


def high_water_query(source: str) -> str:
    return (
        f"SELECT partition, max(offset) FROM {source}"
        " WHERE topic = {topic:String} GROUP BY partition"
    )


def batch_at(offset: int, partition: int = 0) -> list[tuple[Position, Any]]:
    position = Position(TOPIC, partition, offset)
    points = project_at(metrics_logged("r1", [("loss", offset, 1000, 0.5)]), position)
    assert points is not None
    return [(position, points)]


def test_on_a_cluster_the_high_water_marks_come_from_every_replica() -> None:
    client = RecordingClient(stored=[(0, 7)])
    writer = ClickHouseWriter(client, DATABASE, CLUSTER)
    assert writer.load([(TOPIC, 0), (TOPIC, 1)]) == {(TOPIC, 0): 7, (TOPIC, 1): -1}
    assert client.queries == [
        high_water_query("clusterAllReplicas('metrics', tracklog.metric_points_local)")
    ]
    assert client.queries[0] == high_water_query(schema.stored_points_source(DATABASE, CLUSTER))


def test_on_a_cluster_the_writer_creates_the_cluster_tables_and_inserts_distributed() -> None:
    client = RecordingClient(stored=[(0, 7)])
    writer = ClickHouseWriter(client, DATABASE, CLUSTER)
    writer.migrate()
    assert client.commands == schema.cluster_statements(DATABASE, CLUSTER)
    assert writer.write(batch_at(7)) == 0  # stored already, on some replica
    assert writer.write(batch_at(8)) == 1
    assert client.inserts == ["tracklog.metric_points"]  # the Distributed table


def test_without_a_cluster_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(schema.CLUSTER_VARIABLE, raising=False)
    client = RecordingClient(stored=[(1, 3)])
    writer = ClickHouseWriter(client, DATABASE)
    writer.migrate()
    assert writer.load([(TOPIC, 1)]) == {(TOPIC, 1): 3}
    assert writer.write(batch_at(4, partition=1)) == 1
    assert client.commands == schema.single_node_statements(DATABASE)
    assert client.queries == [high_water_query("tracklog.metric_points")]
    assert client.inserts == ["tracklog.metric_points"]


@pytest.mark.parametrize("cluster", ["", CLUSTER])
def test_the_batch_writer_passes_the_settings_cluster(cluster: str) -> None:
    client = RecordingClient()
    settings = Settings(clickhouse_database=DATABASE, clickhouse_cluster=cluster)
    writer = BatchWriter(settings, client)  # Postgres is connected to on first use only
    assert writer.clickhouse.cluster == cluster
    writer.clickhouse.load([(TOPIC, 0)])
    assert client.queries == [high_water_query(schema.stored_points_source(DATABASE, cluster))]


def test_clickhouse_parses_the_cluster_high_water_query() -> None:
    client = RecordingClient()
    ClickHouseWriter(client, DATABASE, "prod-metrics.eu").load([(TOPIC, 0)])
    (formatted,) = parsed_by_clickhouse(client.queries)
    assert "clusterAllReplicas('prod-metrics.eu', tracklog.metric_points_local)" in formatted
