"""Finding, starting and describing the shipper process of a spool directory.

One shipper runs per spool directory: it holds an exclusive ``flock`` on
``<spool dir>/shipper.lock`` for its lifetime and writes ``shipper.json`` (its pid and the
fingerprint of its settings). A client tests the lock to know whether one runs, and starts
one with `start` (``python -m tracklog.shipper``, in a new session so that it outlives the
client; its log goes to ``<spool dir>/shipper.log``, begun anew past LOG_KEEP_BYTES).
Settings travel to it in the environment variable ``TRACKLOG_SHIPPER_CONFIG`` (JSON).
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracklog.contract.settings import KafkaSettings, SpoolSettings

LOCK_FILE = "shipper.lock"
INFO_FILE = "shipper.json"
LOG_FILE = "shipper.log"
LOG_KEEP_BYTES = 10 << 20  # past this, a starting shipper begins a new log (one old kept)
CONFIG_ENV = "TRACKLOG_SHIPPER_CONFIG"
# what this process started (a test session ends them: tests/conftest.py)
started_pids: list[int] = []


@dataclass(frozen=True, slots=True)
class ShipperConfig:
    """What a shipper process needs to send a directory's rings: the same for every
    client it serves (else the client sends in-process)."""

    kafka: KafkaSettings
    spool: SpoolSettings
    compression_type: str | None
    linger_ms: int
    producer_options: Mapping[str, Any]

    def to_json(self) -> str:
        """Raises TypeError when an option cannot travel as JSON (an SSL context...)."""
        spool = dataclasses.asdict(self.spool)
        spool["directory"] = str(self.spool.directory)
        return json.dumps(
            {
                "kafka": dataclasses.asdict(self.kafka),
                "spool": spool,
                "compression_type": self.compression_type,
                "linger_ms": self.linger_ms,
                "producer_options": dict(self.producer_options),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ShipperConfig:
        data = json.loads(text)
        spool = dict(data["spool"])
        spool["directory"] = Path(spool["directory"])
        return cls(
            KafkaSettings(**data["kafka"]),
            SpoolSettings(**spool),
            data["compression_type"],
            int(data["linger_ms"]),
            data["producer_options"],
        )

    def fingerprint(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def running(spool_dir: Path) -> bool:
    """A shipper process holds the directory's lock."""
    try:
        fd = os.open(spool_dir / LOCK_FILE, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def running_fingerprint(spool_dir: Path) -> str | None:
    """The fingerprint the running shipper wrote (None when it has not yet)."""
    try:
        info = json.loads((spool_dir / INFO_FILE).read_text())
    except (OSError, ValueError):
        return None
    value = info.get("fingerprint")
    return str(value) if value else None


def start(config: ShipperConfig) -> int:
    """Start a shipper process for the config's spool directory; returns its pid. It
    exits at once if another one holds the directory."""
    directory = config.spool.directory
    assert directory is not None
    directory.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, CONFIG_ENV: config.to_json()}
    log_path = directory / LOG_FILE
    try:
        if log_path.stat().st_size > LOG_KEEP_BYTES:
            log_path.replace(log_path.with_name(f"{LOG_FILE}.1"))
    except FileNotFoundError:
        pass
    with open(log_path, "ab") as log_file:
        child = subprocess.Popen(
            [sys.executable, "-m", "tracklog.shipper", str(directory)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    started_pids.append(child.pid)
    return child.pid
