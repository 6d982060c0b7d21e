"""`tracklog schema clickhouse [--cluster NAME] [--database DB]`: print the ClickHouse DDL
the worker runs at start, for one node or for a sharded, replicated cluster (ReplicatedMergeTree
tables `<name>_local` and Distributed tables `<name>` over them, ON CLUSTER), so that an
operator can read it, review it, or run it with clickhouse-client before the first worker."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tracklog.contract.read_model.clickhouse_schema import statements
from tracklog.contract.settings import Settings


def add_parser(sub: Any) -> None:
    schema = sub.add_parser(
        "schema", help="print the read models' DDL (ClickHouse)", description=__doc__
    )
    stores = schema.add_subparsers(dest="store", required=True, metavar="STORE")
    clickhouse = stores.add_parser(
        "clickhouse",
        help="the metric points' tables, one node or a cluster",
        description=__doc__,
    )
    clickhouse.add_argument(
        "--cluster",
        default=None,
        help="a cluster of the servers' remote_servers, with {shard} and {replica} macros "
        '(default TRACKLOG_CLICKHOUSE_CLUSTER; "" = one node)',
    )
    clickhouse.add_argument(
        "--database", default=None, help="default TRACKLOG_CLICKHOUSE_DATABASE (tracklog)"
    )
    clickhouse.set_defaults(func=cmd_schema_clickhouse)


def cmd_schema_clickhouse(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    cluster = settings.clickhouse_cluster if args.cluster is None else args.cluster
    database = args.database or settings.clickhouse_database
    try:
        ddl = statements(database, cluster.strip())
    except ValueError as error:
        print(f"tracklog schema: {error}", file=sys.stderr)
        return 2
    sys.stdout.write("".join(f"{statement};\n\n" for statement in ddl))
    return 0
