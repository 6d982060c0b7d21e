"""The `tracklog` command with only the SDK installed (`pip install tracklog`): the client
commands work, and each server command says, in one line, which extra to install."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tracklog.deploy.cli.failures import SERVER_MODULES, ExitCode
from tracklog.deploy.processes import free_port

# Run the CLI with the server-only packages made unimportable, as on a training image.
_CLI = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {{name!r}}")
        return None
sys.meta_path.insert(0, Block())
from tracklog.deploy.cli.main import main
sys.argv = ["tracklog", *sys.argv[1:]]
sys.exit(main())
"""


def _tracklog(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = _CLI.format(blocked=(*SERVER_MODULES, "grpc_health", "grpc_reflection"))
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    "args", [("--version",), ("--help",), ("runs", "search", "--help"), ("models", "--help")]
)
def test_client_commands_need_no_server_dependency(args: tuple[str, ...]) -> None:
    result = _tracklog(*args)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "args",
    [("ingest",), ("query",), ("status",), ("dlq", "list"), ("dlq", "replay", "--dry-run")],
)
def test_server_commands_name_the_server_extra(args: tuple[str, ...]) -> None:
    result = _tracklog(*args)
    assert result.returncode == ExitCode.MISSING_EXTRA, result.stderr
    assert "needs the server extra" in result.stderr
    assert "pip install 'tracklog[server]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_client_read_runs_as_far_as_the_network() -> None:
    """`tracklog runs get` imports and runs the client: it fails only on the address."""
    address = f"127.0.0.1:{free_port()}"
    result = _tracklog("runs", "get", "0" * 32, env={"TRACKLOG_QUERY_ADDR": address})
    assert result.returncode == ExitCode.UNREACHABLE, result.stderr
    assert address in result.stderr
