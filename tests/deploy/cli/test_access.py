"""`tracklog users / tokens / permissions` against a real Postgres, and `tracklog up` /
`tracklog status` printing no secret."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from tests.query.rows import insert_experiment
from tracklog.contract.read_model.postgres_schema import migrate
from tracklog.contract.settings import Settings
from tracklog.deploy.cli import status as cli_status
from tracklog.deploy.cli.failures import ExitCode
from tracklog.deploy.cli.main import main
from tracklog.deploy.cli.up import endpoint_lines
from tracklog.query.auth.tokens import token_hash


@pytest.fixture
def database(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TRACKLOG_POSTGRES_DSN", settings.postgres_dsn)
    return settings.postgres_dsn


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_users_tokens_and_permissions(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "users", "create", "alice")[0] == 0
    assert run(capsys, "users", "create", "root", "--admin")[0] == 0
    code, _, err = run(capsys, "users", "create", "alice")
    assert code == ExitCode.FAILED and "already exists" in err
    out = run(capsys, "users", "list")[1]
    assert "alice" in out and "root" in out and "yes" in out

    code, out, err = run(capsys, "tokens", "create", "alice")
    token = out.strip()
    assert code == 0 and token.startswith("tlk_") and "\n" not in token
    assert "shown only now" in err and token not in err
    code, listed, _ = run(capsys, "tokens", "list")
    assert code == 0 and "alice" in listed
    assert token not in listed and token_hash(token) not in listed
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT token_id, token_sha256 FROM access_tokens").fetchone()
    assert row is not None and row[1] == token_hash(token)  # only the hash is stored
    assert run(capsys, "tokens", "revoke", row[0])[0] == 0
    code, _, err = run(capsys, "tokens", "revoke", row[0])
    assert code == ExitCode.NOT_FOUND and "no live token" in err
    assert run(capsys, "tokens", "create", "nobody")[0] == ExitCode.NOT_FOUND

    with psycopg.connect(database, autocommit=True) as conn:
        insert_experiment(conn, "e1", "vision", datetime(2024, 1, 1, tzinfo=UTC))
    code, out, _ = run(capsys, "permissions", "grant", "alice", "experiment", "vision", "edit")
    assert code == 0 and "alice holds EDIT on experiment vision" in out
    out = run(capsys, "permissions", "list", "--user", "alice")[1]
    assert "e1" in out and "EDIT" in out
    code, _, err = run(capsys, "permissions", "grant", "alice", "model", "nope", "READ")
    assert code == ExitCode.NOT_FOUND and "no registered model 'nope'" in err
    code, out, _ = run(capsys, "permissions", "revoke", "alice", "experiment", "e1")
    assert code == 0 and "removed" in out
    assert "e1" not in run(capsys, "permissions", "list")[1]
    assert run(capsys, "users", "delete", "alice")[0] == 0


def test_up_and_status_print_no_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "tlk_" + "s" * 43
    monkeypatch.setenv("TRACKLOG_TOKEN", token)
    lines = "\n".join(
        endpoint_lines(
            {
                "postgres": "postgresql://tracklog:hunter2@127.0.0.1:5432/tracklog",
                "clickhouse": "http://default:pw@127.0.0.1:8123/?access_token=" + token,
                "archive": "",
            }
        )
    )
    assert "hunter2" not in lines and token not in lines and ":pw@" not in lines
    assert "postgresql://tracklog:***@127.0.0.1:5432/tracklog" in lines

    def scrape(address: str, timeout: float = 0) -> Any:
        raise cli_status.WorkerUnreachable(f"nothing at {address}")

    monkeypatch.setattr(cli_status, "scrape", scrape)
    code, out, err = run(capsys, "status", "--metrics-addr", "http://ops:secret@127.0.0.1:9")
    assert code == ExitCode.UNREACHABLE
    assert token not in out + err and "secret" not in out + err
    assert "http://ops:***@127.0.0.1:9" in err


def test_a_refused_call_exits_with_code_7(
    database: str,
    settings: Settings,
    clickhouse_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tracklog.contract.settings import AuthSettings
    from tracklog.query.server import create_server

    with psycopg.connect(database, autocommit=True) as conn:
        migrate(conn)
    server, port = create_server(
        "127.0.0.1:0", settings, clickhouse_client, max_workers=2, auth=AuthSettings(enabled=True)
    )
    server.start()
    try:
        monkeypatch.setenv("TRACKLOG_QUERY_ADDR", f"127.0.0.1:{port}")
        monkeypatch.setenv("TRACKLOG_TOKEN", "tlk_wrong")
        code, _, err = run(capsys, "experiments", "list")
        assert code == ExitCode.PERMISSION and "UNAUTHENTICATED" in err
        assert "tlk_wrong" not in err
        run(capsys, "users", "create", "alice")
        monkeypatch.setenv("TRACKLOG_TOKEN", run(capsys, "tokens", "create", "alice")[1].strip())
        assert run(capsys, "experiments", "list")[0] == 0
    finally:
        server.stop(None).wait(10)


def test_doctor_says_whether_a_token_is_set_and_not_which(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "tlk_" + "d" * 43
    monkeypatch.setenv("TRACKLOG_TOKEN", token)
    monkeypatch.setenv("TRACKLOG_QUERY_ADDR", "grpcs://127.0.0.1:1")
    code, out, _ = run(capsys, "doctor", "--timeout", "0.2")
    assert code == 0 and token not in out
    assert "token          set (not shown)" in out
    assert "tls            on (CA: the system roots)" in out
