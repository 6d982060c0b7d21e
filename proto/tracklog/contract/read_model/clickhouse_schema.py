"""ClickHouse read-model schema: one row per metric point, for one node or a cluster.

Ordered by (run_id, key, step, timestamp_ms) so that one run's history of one
metric is a contiguous range. Each row carries the Kafka topic, partition and
offset it came from: on start and after a rebalance the writer skips records at
or below the highest offset already stored for a partition, which makes
redelivered events invisible (see ingest/writers/clickhouse.py). The `topic` column
holds the log name `topic@<topic id>` (ingest/records.py), so a topic created
again starts with fresh positions.

The tables are defined once (`TABLES`) and rendered two ways:
- one node (chDB, a single ClickHouse server): a `MergeTree` table per definition;
- a cluster (TRACKLOG_CLICKHOUSE_CLUSTER names a cluster of the servers'
  `remote_servers`, with `{shard}` and `{replica}` macros on each server): per
  definition a `ReplicatedMergeTree` table `<name>_local` on every replica and a
  `Distributed` table `<name>` over them, both created `ON CLUSTER`. Readers and the
  writer keep using `<name>`. Rows are sharded by their Kafka partition, so one
  partition's records (hence one run's: a run is one Kafka key) live on one shard and
  the writer's per-partition high-water mark stays exact (docs/operations.md,
  "ClickHouse on a cluster").
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

METRIC_POINTS = "metric_points"
CLUSTER_VARIABLE = "TRACKLOG_CLICKHOUSE_CLUSTER"
LOCAL_SUFFIX = "_local"
# Keeper path of a replicated table; {shard} is the server's macro, the rest is filled in.
REPLICA_PATH = "/clickhouse/tables/{shard}/%(database)s/%(table)s"
REPLICA_NAME = "{replica}"

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True, slots=True)
class TableDefinition:
    """One read-model table, whatever the deployment."""

    name: str
    columns: tuple[tuple[str, str], ...]  # (name, ClickHouse type)
    order_by: tuple[str, ...]
    shard_by: str  # the Distributed table's sharding key (an integer expression)


METRIC_POINTS_TABLE = TableDefinition(
    name=METRIC_POINTS,
    columns=(
        ("run_id", "String"),
        ("key", "LowCardinality(String)"),
        ("step", "Int64"),
        ("timestamp_ms", "Int64"),
        ("value", "Float64"),
        ("topic", "LowCardinality(String)"),
        ("partition", "UInt16"),
        ("offset", "UInt64"),
    ),
    order_by=("run_id", "key", "step", "timestamp_ms"),
    # One Kafka partition -> one shard (`partition % total weight`): see the module docstring.
    shard_by="partition",
)

TABLES: tuple[TableDefinition, ...] = (METRIC_POINTS_TABLE,)


def _check_database(database: str) -> None:
    if not _PLAIN_NAME.match(database):
        raise ValueError(f"not a plain database name: {database!r}")


def _check_cluster(cluster: str) -> None:
    if not _CLUSTER_NAME.match(cluster):
        raise ValueError(f"not a plain cluster name: {cluster!r}")


def _columns(table: TableDefinition) -> str:
    width = max(len(name) for name, _ in table.columns)
    return ",\n".join(f"    {name.ljust(width)} {kind}" for name, kind in table.columns)


def _order_by(table: TableDefinition) -> str:
    return f"ORDER BY ({', '.join(table.order_by)})"


def local_table(name: str) -> str:
    """The name of a cluster's per-replica table behind the Distributed table `name`."""
    return f"{name}{LOCAL_SUFFIX}"


def single_node_statements(database: str) -> list[str]:
    """DDL for one node: the database and a MergeTree table per definition."""
    _check_database(database)
    statements = [f"CREATE DATABASE IF NOT EXISTS {database}"]
    for table in TABLES:
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {database}.{table.name} (\n{_columns(table)}\n)\n"
            f"ENGINE = MergeTree\n{_order_by(table)}"
        )
    return statements


def cluster_statements(database: str, cluster: str) -> list[str]:
    """DDL for a sharded, replicated cluster, run once from any node (`ON CLUSTER`)."""
    _check_database(database)
    _check_cluster(cluster)
    on_cluster = f"ON CLUSTER `{cluster}`"
    statements = [f"CREATE DATABASE IF NOT EXISTS {database} {on_cluster}"]
    for table in TABLES:
        local = local_table(table.name)
        path = REPLICA_PATH % {"database": database, "table": local}
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {database}.{local} {on_cluster} (\n{_columns(table)}\n)\n"
            f"ENGINE = ReplicatedMergeTree('{path}', '{REPLICA_NAME}')\n{_order_by(table)}"
        )
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {database}.{table.name} {on_cluster}"
            f" AS {database}.{local}\n"
            f"ENGINE = Distributed('{cluster}', '{database}', '{local}', {table.shard_by})"
        )
    return statements


def statements(database: str, cluster: str = "") -> list[str]:
    """The DDL for a deployment: a cluster's when `cluster` names one, else one node's."""
    return cluster_statements(database, cluster) if cluster else single_node_statements(database)


def cluster_from_env() -> str:
    """The cluster TRACKLOG_CLICKHOUSE_CLUSTER names ("" = one node)."""
    return os.environ.get(CLUSTER_VARIABLE, "").strip()


def migrate(client: Any, database: str, cluster: str | None = None) -> None:
    """Create the database and tables if missing (idempotent). `cluster` None reads
    TRACKLOG_CLICKHOUSE_CLUSTER; "" is one node."""
    for statement in statements(database, cluster_from_env() if cluster is None else cluster):
        client.command(statement)


def stored_points_source(database: str, cluster: str = "") -> str:
    """Where to read the highest stored offset per partition from, exactly.

    On a cluster, a Distributed read asks one replica per shard, which may lag behind the
    replica that acknowledged an insert; `clusterAllReplicas` asks every replica, so the
    maximum is what was acknowledged (and the read fails, rather than under-reporting,
    while a replica is unreachable)."""
    _check_database(database)
    if not cluster:
        return f"{database}.{METRIC_POINTS}"
    _check_cluster(cluster)
    return f"clusterAllReplicas('{cluster}', {database}.{local_table(METRIC_POINTS)})"


def truncate_statements(database: str, cluster: str = "") -> list[str]:
    """Empty every read-model table (a rebuild). On a cluster the local tables are
    truncated: TRUNCATE of a Distributed table only drops its pending async inserts."""
    _check_database(database)
    if not cluster:
        return [f"TRUNCATE TABLE IF EXISTS {database}.{t.name}" for t in TABLES]
    _check_cluster(cluster)
    return [
        f"TRUNCATE TABLE IF EXISTS {database}.{local_table(t.name)} ON CLUSTER `{cluster}`"
        for t in TABLES
    ]
