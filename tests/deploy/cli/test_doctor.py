"""`tracklog doctor` and `tracklog --version`, run as the real command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tracklog.deploy.cli.redaction import mask_dsn
from tracklog.deploy.embedded.data_dir import tracklog_version
from tracklog.deploy.processes import free_port
from tracklog.spool.dirs import create_own
from tracklog.spool.quarantine import Quarantine
from tracklog.spool.segments import SegmentLog


def test_mask_dsn_hides_passwords_and_tokens() -> None:
    assert mask_dsn("postgresql://u:s3cret@pg:5432/db") == "postgresql://u:***@pg:5432/db"
    assert mask_dsn("postgresql://u@pg/db") == "postgresql://u@pg/db"
    assert (
        mask_dsn("http://default:pw@ch:8123/?database=t&access_token=abc")
        == "http://default:***@ch:8123/?database=t&access_token=***"
    )
    assert mask_dsn("host=pg user=u password=s3cret dbname=d") == (
        "host=pg user=u password=*** dbname=d"
    )
    assert mask_dsn("chdb:///data/chdb") == "chdb:///data/chdb"
    assert mask_dsn("") == "(not set)"


def _spool_with_one_pending_and_one_quarantined(root: Path) -> None:
    claim = create_own(root, "127.0.0.1:9/tracklog.events")
    log = SegmentLog(claim.path, writable=True)
    log.append(b"run-1", b"event", 3)
    log.close()
    claim.release(remove=False)
    Quarantine(root, "127.0.0.1:9/tracklog.events").put(b"k", b"v", 2, ValueError("too big"))


def test_doctor_reports_extras_addresses_and_spool(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    _spool_with_one_pending_and_one_quarantined(spool)
    query, pg = f"127.0.0.1:{free_port()}", free_port()
    env = {
        **os.environ,
        "TRACKLOG_QUERY_ADDR": query,
        "TRACKLOG_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "TRACKLOG_POSTGRES_DSN": f"postgresql://tracklog:s3cret@127.0.0.1:{pg}/tracklog",
        "TRACKLOG_SPOOL_DIR": str(spool),
    }
    result = subprocess.run(
        [sys.executable, "-m", "tracklog.deploy.cli.main", "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"tracklog {tracklog_version()} (python ")
    assert lines[1] == "extras:"
    assert (
        f"  query service   {query}  [TRACKLOG_QUERY_ADDR]  NOT reachable (Connection refused)"
        in (lines)
    )
    assert "s3cret" not in result.stdout
    assert f"postgresql://tracklog:***@127.0.0.1:{pg}/tracklog" in result.stdout
    assert "  pending events 1 (3 metric points) in 1 directories" in lines
    assert "  quarantined    1 (`tracklog spool list`)" in lines


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tracklog.deploy.cli.main", "--version"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, f"tracklog {tracklog_version()}\n")
