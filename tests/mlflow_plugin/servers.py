"""`mlflow server --backend-store-uri tracklog://...` as a subprocess, for the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tracklog.deploy.broker import free_port


def wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mlflow server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise AssertionError(f"mlflow server at {url} not healthy after {timeout}s")


@contextmanager
def mlflow_server(store_uri: str, tmp_path: Path, spool_dir: Path, workers: int) -> Iterator[str]:
    """`mlflow server` over `store_uri` in a subprocess; its URL once healthy."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "mlflow-server.log").open("wb")
    env = {**os.environ, "TRACKLOG_SPOOL_DIR": str(spool_dir / "server")}
    command = [
        *(sys.executable, "-m", "mlflow", "server"),
        *("--backend-store-uri", store_uri),
        *("--artifacts-destination", str(tmp_path / "served-artifacts")),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
    ]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
