"""The shipper process: ``python -m tracklog.shipper <spool dir>`` (started by the SDK).

It takes the directory's lock (or exits: another shipper holds it), opens the disk spool
(adopting what earlier processes left) and reads every ring of the directory into it
until it has had no ring to read for TRACKLOG_SHIPPER_IDLE_SECONDS (default 30) with
everything acknowledged, or ten times that with events still unacknowledged (the broker
away): these stay in the spool for the next shipper. SIGTERM stops it the same way.
Its log is ``<spool dir>/shipper.log`` (`launch` starts a new one past 10 MiB, keeping the
previous one as ``shipper.log.1``); its warnings also go to the rings' writers (`notices`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import time
from pathlib import Path

from tracklog.sending.sink import kafka_sink_factory
from tracklog.shipper.core import ShipperCore, run_until
from tracklog.shipper.launch import CONFIG_ENV, INFO_FILE, LOCK_FILE, ShipperConfig
from tracklog.shipper.notices import NoticeBoard
from tracklog.spool.spooling_sink import SpoolingSink, spool_producer_options, spool_target

log = logging.getLogger("tracklog.shipper")

LOCK_TRIES_SECONDS = 2.0


def _lock(directory: Path) -> int | None:
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + LOCK_TRIES_SECONDS  # a client may test it right now
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("tracklog").setLevel(logging.INFO)
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # the spool reports outages
    directory = Path(argv[0])
    config = ShipperConfig.from_json(os.environ[CONFIG_ENV])
    fd = _lock(directory)
    if fd is None:
        return 0  # another shipper serves the directory
    idle_seconds = float(os.environ.get("TRACKLOG_SHIPPER_IDLE_SECONDS", "30"))
    exit_flush = float(os.environ.get("TRACKLOG_EXIT_FLUSH_SECONDS", "30"))
    info = {"pid": os.getpid(), "fingerprint": config.fingerprint(), "started": time.time()}
    (directory / INFO_FILE).write_text(json.dumps(info))
    target = spool_target(config.kafka)
    factory = kafka_sink_factory(
        config.kafka,
        compression_type=config.compression_type,
        linger_ms=config.linger_ms,
        producer_options=spool_producer_options(config.producer_options),
    )
    notices = NoticeBoard()  # the sessions' own processes log these warnings again
    logging.getLogger("tracklog").addHandler(notices)
    spool = SpoolingSink(config.spool, factory, target)
    core = ShipperCore(directory, target, spool, notices=notices, fingerprint=config.fingerprint())
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    idle_since = time.monotonic()
    log.info("tracklog shipper: serving %s (pid %d)", directory, os.getpid())

    def stop() -> bool:
        nonlocal idle_since
        if stopping:
            return True
        if core.attached():
            idle_since = time.monotonic()
            return False
        idle = time.monotonic() - idle_since
        if idle < idle_seconds:
            return False
        events, points = spool.pending()
        return events + points == 0 or idle >= 10 * idle_seconds

    try:
        run_until(core, stop)
    finally:
        core.close()
        spool.close(exit_flush)
        log.info("tracklog shipper: exiting")
    return 0
