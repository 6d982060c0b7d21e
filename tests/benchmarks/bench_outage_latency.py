"""Logging call latency while the broker is down: the figures the fault test only prints.

    .venv/bin/python tests/benchmarks/bench_outage_latency.py [--runs 5] [--seconds 20]
        [--shipper thread|process]

Each run starts its own Tansu (memory storage) on a free port, opens a Session with
the disk spool on (a temporary directory), logs 4 metrics per call paced over
``--seconds`` (about 5,500 calls/s), kills the broker a quarter of the way in and
starts it again at three quarters, then flushes. It prints per run p50 / p99 /
p99.9 / max wall time of a call and the SDK's own part of the slowest one (wall less
run-queue wait and garbage collections, tests/faults/call_latency.py), then the
medians over the runs. The performance issue's goal: p99.9 <= 100 us, max <= 1 ms.
``--shipper process`` hands the calls over to a shipper process (TRACKLOG_SHIPPER).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script

from tests.faults.call_latency import CallLatencies, latency_sensitive, log_paced, report
from tracklog.contract.settings import KafkaSettings, SpoolSettings
from tracklog.contract.topics import ensure_topics
from tracklog.deploy.embedded.broker import TansuBroker
from tracklog.deploy.processes import free_port
from tracklog.session import Session
from tracklog.shipper import launch

KEYS = ("loss", "accuracy", "lr", "grad_norm")
CALLS_PER_SECOND = 5_500


def outage(broker: TansuBroker, seconds: float, topics: KafkaSettings) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds / 4)
        broker.kill()
        time.sleep(seconds / 2)
        broker.start()
        ensure_topics(topics)  # memory storage: the restarted broker knows no topic

    thread = threading.Thread(target=run, name="outage", daemon=True)
    thread.start()
    return thread


def one_run(seconds: float) -> CallLatencies:
    broker = TansuBroker(port=free_port()).start()
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap, events_topic="tracklog.bench")
    ensure_topics(kafka)
    with tempfile.TemporaryDirectory() as spool_dir:
        session = Session(kafka, query_addr="", spool=SpoolSettings(Path(spool_dir)))
        try:
            session.start_run(run_name="outage")
            assert session.flush(30), "the broker did not acknowledge the run's start"
            steps = int(seconds * CALLS_PER_SECOND)
            killer = outage(broker, seconds, kafka)
            with latency_sensitive() as pauses:
                measured = log_paced(session, KEYS, steps, seconds, lambda i, s: s + i / 8, pauses)
            killer.join()
            session.end_run()
            flushed = session.flush(120)
            print(report(measured, seconds))
            print(f"flushed after the restart: {bool(flushed)}")
        finally:
            session.close(10)
            broker.stop()
            for pid in launch.started_pids:  # the shipper of the temporary spool directory
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGTERM)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--shipper", choices=("thread", "process"), default=None)
    args = parser.parse_args()
    if args.shipper:
        os.environ["TRACKLOG_SHIPPER"] = args.shipper
    print(f"TRACKLOG_SHIPPER={os.environ.get('TRACKLOG_SHIPPER', 'thread')}")
    runs = []
    for i in range(args.runs):
        print(f"\n== run {i + 1} of {args.runs}")
        runs.append(one_run(args.seconds))

    def median(of: list[int]) -> float:
        return statistics.median(of) / 1e3

    print(
        f"\nmedian over {len(runs)} runs: "
        f"p50 {median([r.quantile(0.5) for r in runs]):.1f} us, "
        f"p99 {median([r.quantile(0.99) for r in runs]):.1f} us, "
        f"p99.9 {median([r.quantile(0.999) for r in runs]):.1f} us, "
        f"max {median([max(r.latencies) for r in runs]):.0f} us, "
        f"SDK's own part of the slowest call {median([r.longest_blocked for r in runs]):.0f} us"
    )


if __name__ == "__main__":
    main()
