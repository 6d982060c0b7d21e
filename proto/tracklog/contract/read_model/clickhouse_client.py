"""One way to get a ClickHouse client: clickhouse-connect, for chDB and servers alike.

`chdb:///abs/path` opens the in-process chDB engine (one data path per process);
`http(s)://user:password@host:8123` talks to a ClickHouse server.
"""

from __future__ import annotations

from typing import Any


def connect(dsn: str) -> Any:
    import clickhouse_connect

    if not dsn:
        raise ValueError("no ClickHouse DSN: set TRACKLOG_CLICKHOUSE_DSN")
    return clickhouse_connect.get_client(dsn=dsn)
