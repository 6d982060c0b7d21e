"""The ClickHouse DDL: one node's as before, a cluster's generated from the same definitions."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from tracklog.contract.read_model import clickhouse_schema as schema
from tracklog.contract.settings import Settings

# The single-node table as it was before the definitions were factored out (whitespace aside).
ONE_NODE_METRIC_POINTS = """
    CREATE TABLE IF NOT EXISTS tracklog.metric_points (
        run_id       String,
        key          LowCardinality(String),
        step         Int64,
        timestamp_ms Int64,
        value        Float64,
        topic        LowCardinality(String),
        partition    UInt16,
        offset       UInt64
    )
    ENGINE = MergeTree
    ORDER BY (run_id, key, step, timestamp_ms)
"""


def squeezed(sql: str) -> str:
    return " ".join(sql.split())


class RecordingClient:
    def __init__(self) -> None:
        self.commands: list[str] = []

    def command(self, sql: str) -> None:
        self.commands.append(sql)


def test_one_node_ddl_is_unchanged() -> None:
    database, metric_points = schema.single_node_statements("tracklog")
    assert database == "CREATE DATABASE IF NOT EXISTS tracklog"
    assert squeezed(metric_points) == squeezed(ONE_NODE_METRIC_POINTS)


def test_migrate_without_a_cluster_runs_the_one_node_ddl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(schema.CLUSTER_VARIABLE, raising=False)
    client = RecordingClient()
    schema.migrate(client, "tracklog")
    assert client.commands == schema.single_node_statements("tracklog")


def test_migrate_follows_the_cluster_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(schema.CLUSTER_VARIABLE, "metrics")
    client = RecordingClient()
    schema.migrate(client, "tracklog")
    assert client.commands == schema.cluster_statements("tracklog", "metrics")
    explicit = RecordingClient()
    schema.migrate(explicit, "tracklog", cluster="")  # an explicit "" wins over the variable
    assert explicit.commands == schema.single_node_statements("tracklog")


def test_settings_read_the_cluster() -> None:
    assert Settings.from_env({}).clickhouse_cluster == ""
    env = {"TRACKLOG_CLICKHOUSE_CLUSTER": " metrics "}
    assert Settings.from_env(env).clickhouse_cluster == "metrics"


def test_every_table_has_a_replicated_local_table_and_a_distributed_one() -> None:
    ddl = schema.cluster_statements("tracklog", "metrics")
    assert ddl[0] == "CREATE DATABASE IF NOT EXISTS tracklog ON CLUSTER `metrics`"
    assert all(" ON CLUSTER `metrics`" in statement for statement in ddl)
    assert len(ddl) == 1 + 2 * len(schema.TABLES)
    for table, local, distributed in zip(schema.TABLES, ddl[1::2], ddl[2::2], strict=True):
        local_name = f"{table.name}_local"
        assert local.startswith(f"CREATE TABLE IF NOT EXISTS tracklog.{local_name} ON CLUSTER")
        assert (
            f"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/tracklog/{local_name}',"
            " '{replica}')" in local
        )
        assert f"ORDER BY ({', '.join(table.order_by)})" in local
        for name, kind in table.columns:
            assert re.search(rf"^\s+{name}\s+{re.escape(kind)},?$", local, re.MULTILINE)
        assert distributed.startswith(
            f"CREATE TABLE IF NOT EXISTS tracklog.{table.name} ON CLUSTER `metrics`"
            f" AS tracklog.{local_name}\n"
        )
        assert distributed.endswith(
            f"ENGINE = Distributed('metrics', 'tracklog', '{local_name}', {table.shard_by})"
        )


def test_points_are_sharded_by_kafka_partition() -> None:
    """One partition's records on one shard: the writer's per-partition high-water mark
    is then one shard's, which an insert changes atomically (docs/operations.md)."""
    assert schema.METRIC_POINTS_TABLE.shard_by == "partition"
    assert ("partition", "UInt16") in schema.METRIC_POINTS_TABLE.columns


def test_the_exact_high_water_source_and_truncation_on_a_cluster() -> None:
    assert schema.stored_points_source("tracklog") == "tracklog.metric_points"
    assert (
        schema.stored_points_source("tracklog", "metrics")
        == "clusterAllReplicas('metrics', tracklog.metric_points_local)"
    )
    assert schema.truncate_statements("tracklog") == [
        "TRUNCATE TABLE IF EXISTS tracklog.metric_points"
    ]
    assert schema.truncate_statements("tracklog", "metrics") == [
        "TRUNCATE TABLE IF EXISTS tracklog.metric_points_local ON CLUSTER `metrics`"
    ]


@pytest.mark.parametrize("cluster", ["metrics; DROP TABLE x", "a b", "`x`", "x'y"])
def test_names_that_would_need_quoting_are_refused(cluster: str) -> None:
    with pytest.raises(ValueError, match="cluster name"):
        schema.cluster_statements("tracklog", cluster)
    with pytest.raises(ValueError, match="database name"):
        schema.cluster_statements("track-log", "metrics")


PARSE_WITH_CHDB = """
import json, sys
import clickhouse_connect
client = clickhouse_connect.get_client(dsn="chdb://memory")
out = [client.query("SELECT formatQuery({q:String})", parameters={"q": q}).result_rows[0][0]
       for q in json.loads(sys.stdin.read())]
print(json.dumps(out))
"""


def parsed_by_clickhouse(statements: list[str]) -> list[str]:
    """ClickHouse's own parser (chDB, in a child process: one engine per process)."""
    out = subprocess.run(
        [sys.executable, "-c", PARSE_WITH_CHDB],
        input=json.dumps(statements),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_clickhouse_parses_the_cluster_ddl() -> None:
    statements: list[Any] = [
        *schema.cluster_statements("tracklog", "prod-metrics.eu"),
        *schema.truncate_statements("tracklog", "prod-metrics.eu"),
        "SELECT partition, max(offset) FROM "
        + schema.stored_points_source("tracklog", "prod-metrics.eu")
        + " GROUP BY partition",
    ]
    formatted = parsed_by_clickhouse(statements)
    assert len(formatted) == len(statements)
    assert "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/" in formatted[1]
    assert "ENGINE = Distributed('prod-metrics.eu', 'tracklog'" in formatted[2]
