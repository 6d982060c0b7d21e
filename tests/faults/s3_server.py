"""A local S3 server for durable Tansu storage: moto's server mode in a child process.

A child process, not moto's in-process thread: the server's request handling would
otherwise compete for the test process's GIL with the code under measurement.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tracklog.deploy.processes import free_port, spawn_server, stop_process


@dataclass
class MotoS3Server:
    """``moto_server`` on 127.0.0.1:port; its buckets live in its memory until `stop`."""

    port: int = 0
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoS3Server:
        self.port = self.port or free_port()
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = spawn_server(
            argv, "127.0.0.1", self.port, "moto server", log_path=self.log_path, timeout=timeout
        )
        return self

    def create_bucket(self, name: str) -> None:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket=name)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
