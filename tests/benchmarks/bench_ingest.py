"""Ingest throughput: pre-produced MetricsLogged events -> worker -> chDB + Postgres.

Starts Tansu and embedded Postgres under a temporary directory, builds POINTS metric
points in events of BATCH points (10 runs x 4 keys, interleaved like log_metrics
calls) and, RUNS times, produces them onto a fresh topic (compressed as the SDK does)
and runs a Worker alone in a fresh child process (with its own chDB data path) until
its lag is 0 and every point is stored. Per run it prints points/s from the start of
the first poll that returned records (the consumer group join is not ingest work),
the time split, and the worker process's peak RSS while it ingests (sampled; chDB
runs inside the worker's process, as in the embedded stack). Then the medians.

Usage: python tests/benchmarks/bench_ingest.py [--points 1000000] [--batch 10000]
       [--runs 5] [--compression zstd|none] [--archive] [--profile]
       (--profile: the first run's worker thread under cProfile, its top printed)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import multiprocessing
import pstats
import resource
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
from kafka import KafkaProducer

from tracklog.contract.read_model.clickhouse_client import connect
from tracklog.contract.settings import KafkaSettings, Settings
from tracklog.contract.topics import ensure_topics
from tracklog.deploy.embedded.broker import TansuBroker
from tracklog.deploy.embedded.postgres import EmbeddedPostgres, create_database
from tracklog.deploy.processes import free_port
from tracklog.ingest.worker import Worker
from tracklog.v1 import events_pb2 as pb

RUNS, KEYS = 10, ("loss", "accuracy", "learning_rate", "grad_norm")
RSS_SAMPLE_SECONDS = 0.02


def events(points: int, batch: int) -> list[pb.Envelope]:
    """Columnar batches, round-robin over the runs, each holding all keys per step."""
    out: list[pb.Envelope] = []
    steps_per_event = batch // len(KEYS)
    next_step = [0] * RUNS
    for i in range(points // batch):
        run = i % RUNS
        e = pb.Envelope(
            event_id=uuid.uuid4().hex,
            aggregate_id=f"run{run:03d}",
            aggregate_type=pb.AGGREGATE_TYPE_RUN,
            sequence=i + 1,
        )
        m = e.metrics_logged
        first = next_step[run]
        for step in range(first, first + steps_per_event):
            for k, key in enumerate(KEYS):
                m.keys.append(key)
                m.steps.append(step)
                m.timestamps_ms.append(1_700_000_000_000 + step)
                m.values.append(1.0 / (step + 1) + k)
        next_step[run] = first + steps_per_event
        out.append(e)
    return out


def ingest(settings: Settings, total: int, profile: bool) -> dict[str, Any]:
    """In the child process: run a Worker until every point is stored; its figures."""
    logging.basicConfig(level=logging.ERROR)
    clickhouse = connect(settings.clickhouse_dsn)
    worker = Worker(settings, clickhouse)
    stop = threading.Event()
    profiler = cProfile.Profile() if profile else None

    def run() -> None:
        if profiler is not None:
            profiler.enable()
        try:
            worker.run(stop)
        finally:
            if profiler is not None:
                profiler.disable()

    process = psutil.Process()
    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    peak_rss = idle_rss = 0
    while not (worker.drained() and worker.stats.points_written >= total):
        if not thread.is_alive():
            raise SystemExit("the worker died")
        if worker.stats.first_records_at is None:
            idle_rss = process.memory_info().rss
        else:
            peak_rss = max(peak_rss, process.memory_info().rss)
        time.sleep(RSS_SAMPLE_SECONDS)
    done = time.monotonic()
    stop.set()
    thread.join(30)
    stored = clickhouse.query(
        f"SELECT count() FROM {settings.clickhouse_database}.metric_points"
    ).result_rows[0][0]
    s = worker.stats
    top = ""
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(30)
        top = out.getvalue()
    return {
        "stored": stored,
        "steady": done - (s.first_records_at or started),
        "with_join": done - started,
        "batches": s.batches,
        "events": s.events_consumed,
        "poll": s.poll_seconds,
        "project": s.project_seconds,
        "write": s.write_seconds,
        "peak_rss": peak_rss,
        "idle_rss": idle_rss,
        "max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "profile": top,
    }


def child(settings: Settings, total: int, profile: bool, results: Any) -> None:
    results.put(ingest(settings, total, profile))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--compression", default="zstd", help="zstd (as the SDK), lz4, none")
    parser.add_argument("--archive", action="store_true", help="archive events (Avro files)")
    parser.add_argument("--profile", action="store_true", help="cProfile the first run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="tracklog-bench-ingest-"))
    broker = TansuBroker(port=free_port(), log_path=root / "tansu.log").start()
    postgres = EmbeddedPostgres(root / "pgdata").start()
    spawn = multiprocessing.get_context("spawn")
    batch = events(args.points, args.batch)
    total = sum(len(e.metrics_logged.keys) for e in batch)
    payloads = [(e.aggregate_id.encode(), e.SerializeToString()) for e in batch]
    size = sum(len(value) for _, value in payloads)
    del batch
    rates: list[float] = []
    rss: list[int] = []
    try:
        for run in range(args.runs):
            create_database(postgres.dsn(), f"bench{run}")
            kafka = KafkaSettings(
                bootstrap_servers=broker.bootstrap,
                events_topic=f"bench{run}.events",
                partitions=4,
                replication_factor=1,
                min_insync_replicas=1,
            )
            ensure_topics(kafka)
            settings = Settings(
                kafka=kafka,
                postgres_dsn=postgres.dsn(f"bench{run}"),
                clickhouse_dsn=f"chdb://{root / f'ch{run}'}",
                clickhouse_database="bench",
                consumer_group=f"bench-ingest-{run}",
                archive_root=str(root / f"archive{run}") if args.archive else "",
            )
            started = time.perf_counter()
            compression = None if args.compression == "none" else args.compression
            producer = KafkaProducer(
                **kafka.client_options(),
                acks="all",
                linger_ms=5,
                compression_type=compression,
                max_request_size=4 * 1024 * 1024,
            )
            for key, value in payloads:
                producer.send(kafka.events_topic, key=key, value=value)
            producer.flush()
            producer.close()
            produced = time.perf_counter() - started
            results = spawn.Queue()
            worker = spawn.Process(
                target=child, args=(settings, total, args.profile and run == 0, results)
            )
            worker.start()
            r = results.get()
            worker.join(60)
            assert r["stored"] == total, (r["stored"], total)
            rate = total / r["steady"]
            rates.append(rate)
            rss.append(r["peak_rss"])
            print(
                f"run {run + 1}: produced {total:,} points in {len(payloads)} events"
                f" ({size / 1e6:.1f} MB, {args.compression}) in {produced:.2f}s;"
                f" {r['batches']} batches of {r['events'] / max(r['batches'], 1):.0f} events;"
                f" poll {r['poll']:.2f}s, decode+project {r['project']:.2f}s,"
                f" write {r['write']:.2f}s; incl. group join {total / r['with_join']:,.0f}"
                f" points/s; from the first poll {rate:,.0f} points/s ({r['steady']:.2f}s);"
                f" RSS before the first records {r['idle_rss'] / 2**20:.0f} MB,"
                f" peak while ingesting {r['peak_rss'] / 2**20:.0f} MB"
                f" (max RSS of the process {r['max_rss'] / 2**20:.0f} MB)",
                flush=True,
            )
            if r["profile"]:
                print(r["profile"], flush=True)
        print(
            f"worker alone, {total:,} pre-produced points, from the first poll:"
            f" {statistics.median(rates):,.0f} points/s (median of {len(rates)} runs;"
            f" min {min(rates):,.0f}, max {max(rates):,.0f});"
            f" peak RSS at full rate {statistics.median(rss) / 2**20:.0f} MB"
            f" (median; max {max(rss) / 2**20:.0f} MB)"
        )
    finally:
        broker.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
