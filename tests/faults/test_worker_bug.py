"""A bug in a writer ends the `tracklog ingest` process with a non-zero status, before
any offset is committed; a worker started after the fix replays the batch and both read
models end up exact. (The worker runs as a child process with its own chDB path, as in
test_worker_sigkill.py; the bug is patched in before the CLI starts.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.faults.test_worker_sigkill import SESSION_TIMEOUT_MS
from tests.faults.worker_group import worker_env
from tests.ingest.events import postgres_snapshot, produce, running, wait_until
from tests.ingest.test_worker import point_count, some_runs, stored_points
from tests.ingest.test_worker_errors import committed_offsets
from tracklog.contract.settings import Settings
from tracklog.ingest.worker import Worker

pytestmark = pytest.mark.integration

WITH_A_BUG = """
import sys
from tracklog.ingest.writers import postgres

def broken(conn, ops):
    return {}["run_id"]  # a bug: a KeyError inside the Postgres transaction

postgres.tracking_writer.apply = broken
from tracklog.deploy.cli.main import main
sys.exit(main(["ingest"]))
"""


def test_a_writer_bug_exits_non_zero_commits_nothing_and_a_restart_replays(
    settings: Settings, clickhouse_client: Any, tmp_path: Path
) -> None:
    events = some_runs(runs=2, steps=200)
    produce(settings, events)
    process = subprocess.run(
        [sys.executable, "-c", WITH_A_BUG],
        env=worker_env(settings, f"chdb://{tmp_path / 'chdb'}", SESSION_TIMEOUT_MS),
        capture_output=True,
        timeout=120,
        check=False,
    )
    output = (process.stdout + process.stderr).decode(errors="replace")
    assert process.returncode != 0, output
    assert "KeyError: 'run_id'" in output
    assert set(committed_offsets(settings).values()) == {None}
    assert postgres_snapshot(settings.postgres_dsn)["runs"] == []

    restarted = Worker(settings, clickhouse_client)
    with running(restarted) as runner:
        wait_until(lambda: runner.drained(len(events)), what="the restart to drain")
    assert stored_points(clickhouse_client, settings.clickhouse_database) == point_count(events)
    assert [r[5] for r in postgres_snapshot(settings.postgres_dsn)["runs"]] == ["FINISHED"] * 2
