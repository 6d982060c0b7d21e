"""Ingest scaling on one box: 1 -> 2 -> 4 `tracklog ingest` processes in one consumer group.

Starts Tansu (memory), embedded Postgres and one metric store, produces POINTS metric points
once onto a topic of 8 partitions (MetricsLogged events of --points-per-event points, keyed
by run, round-robin over --runs runs), then for each configuration and repeat starts N worker
processes in a fresh consumer group with a fresh Postgres and ClickHouse database, and times
them until every point is stored. Prints, per configuration, the median total rate of
--repeats runs, measured two ways:
- from the first stored point to the last (the workers' steady rate);
- from the processes' start (with Python start-up, the group join and rebalances).

The store: chDB lets one process own a data path (DESIGN.md), so the workers share one chDB
path behind a ClickHouse HTTP endpoint (tests/faults/chdb_server.py), as they share one
ClickHouse server in production; inserts and reads go over HTTP, in that one process. On a
2-core machine, N workers + that store + the broker + Postgres share 2 cores: the figures say
how far one box goes, not how far a cluster of workers goes.

Usage: python tests/benchmarks/bench_workers.py [--points 2000000] [--workers 1,2,4]
       [--repeats 5] [--partitions 8]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script

from tests.faults.chdb_server import ChdbServer
from tests.faults.worker_group import (
    PointPlan,
    produce,
    start_worker,
    stop_worker,
    stored_rows,
    worker_env,
)
from tracklog.contract.read_model.clickhouse_client import connect
from tracklog.contract.settings import KafkaSettings, Settings
from tracklog.contract.topics import ensure_topics
from tracklog.deploy.embedded.broker import TansuBroker
from tracklog.deploy.embedded.postgres import EmbeddedPostgres, create_database
from tracklog.deploy.processes import free_port

SESSION_TIMEOUT_MS = 3000
POLL_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class Sample:
    workers: int
    steady_rate: float  # points/s from the first stored point to the last
    overall_rate: float  # points/s from the processes' start
    first_point_s: float  # processes' start -> first stored point
    settled_share: float  # share of the points stored after the group's last assignment


ASSIGNED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO \S+: assigned \[")


def last_assignment(logs: list[Path]) -> float:
    """Wall-clock time of the last partition assignment any worker logged."""
    last = 0.0
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            found = ASSIGNED.match(line)
            if found:
                at = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                last = max(last, at)
    return last


def stored_at(timeline: list[tuple[float, int]], at: float) -> int:
    """Points stored at wall-clock time `at` (the last poll at or before it)."""
    before = [stored for when, stored in timeline if when <= at]
    return before[-1] if before else 0


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_once(
    settings: Settings, store: ChdbServer, workers: int, total: int, logs: Path, timeout: float
) -> Sample:
    env = worker_env(settings, store.dsn, SESSION_TIMEOUT_MS)
    env["TRACKLOG_ARTIFACT_ROOTS"] = "*"
    database = settings.clickhouse_database
    started = time.time()
    paths = [logs / f"{database}-{n}.log" for n in range(workers)]
    processes = [start_worker(env, path) for path in paths]
    first = done = 0.0
    timeline: list[tuple[float, int]] = []
    try:
        while True:
            stored = stored_rows(store.dsn, database)
            now = time.time()
            timeline.append((now, stored))
            if stored and not first:
                first = now
            if stored >= total:
                done = now
                break
            if any(p.poll() is not None for p in processes):
                raise SystemExit(f"a worker exited: see {logs}")
            if now - started > timeout:
                raise SystemExit(f"{stored:,} of {total:,} points after {timeout:.0f} s")
            time.sleep(POLL_SECONDS)
    finally:
        for p in processes:
            stop_worker(p)
    if stored != total:
        raise SystemExit(f"stored {stored:,} points, produced {total:,}")
    settled = last_assignment(paths)
    remaining = total - stored_at(timeline, settled)
    return Sample(
        workers=workers,
        steady_rate=total / max(done - first, POLL_SECONDS),
        overall_rate=total / (done - started),
        first_point_s=first - started,
        settled_share=max(remaining, 0) / total if settled < done else 0.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--points-per-event", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=32)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    counts = [int(n) for n in args.workers.split(",")]
    plan = PointPlan(args.runs, args.points // args.points_per_event, args.points_per_event)
    root = Path(tempfile.mkdtemp(prefix="tracklog-bench-workers-"))
    broker = TansuBroker(port=free_port(), log_path=root / "tansu.log").start()
    postgres = EmbeddedPostgres(root / "pgdata").start()
    store = ChdbServer(root / "chdb", free_port(), root / "chdb-server.log").start()
    print(f"load before: {load()}")
    try:
        kafka = KafkaSettings(
            bootstrap_servers=broker.bootstrap,
            events_topic="bench.workers",
            partitions=args.partitions,
            replication_factor=1,
            min_insync_replicas=1,
        )
        ensure_topics(kafka)
        base = Settings(kafka=kafka, clickhouse_dsn=store.dsn)
        produced_at = time.perf_counter()
        events = produce(base, plan)
        print(
            f"produced {plan.points:,} points in {events} events of {plan.points_per_event:,}"
            f" ({plan.runs} runs) onto {args.partitions} partitions"
            f" in {time.perf_counter() - produced_at:.1f} s"
        )
        samples: list[Sample] = []
        for repeat in range(args.repeats):
            for workers in counts:  # configurations interleaved: noise spreads over all
                name = f"w{workers}_r{repeat}"
                create_database(postgres.dsn(), name)
                settings = replace(
                    base,
                    postgres_dsn=postgres.dsn(name),
                    clickhouse_database=name,
                    consumer_group=f"bench-{name}",
                )
                sample = run_once(settings, store, workers, plan.points, root, args.timeout)
                samples.append(sample)
                print(
                    f"  {workers} worker(s), run {repeat + 1}: {sample.steady_rate:,.0f} points/s"
                    f" from the first stored point, {sample.overall_rate:,.0f} from the start"
                    f" (first point after {sample.first_point_s:.1f} s); stored after the"
                    f" group's last assignment: {sample.settled_share:.0%}"
                )
                connect(store.dsn).command(f"DROP DATABASE IF EXISTS {name}")
        print(f"load after: {load()}")
        print(
            f"median of {args.repeats} runs, {plan.points:,} points, {args.partitions} partitions:"
        )
        print(
            "| workers | from the first stored point | from the processes' start"
            " | first point after | stored after the last assignment |"
        )
        print("|---|---|---|---|---|")
        for workers in counts:
            mine = [s for s in samples if s.workers == workers]
            settled = statistics.median(s.settled_share for s in mine)
            steady = statistics.median(s.steady_rate for s in mine)
            overall = statistics.median(s.overall_rate for s in mine)
            first = statistics.median(s.first_point_s for s in mine)
            print(
                f"| {workers} | {steady:,.0f} points/s | {overall:,.0f} points/s"
                f" | {first:.1f} s | {settled:.0%} |"
            )
        print(f"cores: {os.cpu_count()}")
    finally:
        store.stop()
        postgres.stop()
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
