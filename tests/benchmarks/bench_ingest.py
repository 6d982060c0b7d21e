"""Ingest throughput: pre-produced MetricsLogged events -> worker -> chDB + Postgres.

Starts Tansu, embedded Postgres and chDB under a temporary directory, produces
POINTS metric points in events of BATCH points (10 runs x 4 keys, interleaved like
log_metrics calls) onto a fresh topic, then times a Worker from its start until
its lag is 0 and every point is stored, and prints points/s.

Usage: python tests/benchmarks/bench_ingest.py [--points 1000000] [--batch 10000] [--archive]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--archive", action="store_true", help="archive events (Avro files)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="tracklog-bench-ingest-"))
    broker = TansuBroker(port=free_port(), log_path=root / "tansu.log").start()
    postgres = EmbeddedPostgres(root / "pgdata").start()
    try:
        create_database(postgres.dsn(), "bench")
        kafka = KafkaSettings(
            bootstrap_servers=broker.bootstrap, events_topic="bench.events", partitions=4
        )
        ensure_topics(kafka)
        settings = Settings(
            kafka=kafka,
            postgres_dsn=postgres.dsn("bench"),
            clickhouse_dsn=f"chdb://{root / 'ch'}",
            clickhouse_database="bench",
            consumer_group="bench-ingest",
            archive_root=str(root / "archive") if args.archive else "",
        )
        clickhouse = connect(settings.clickhouse_dsn)

        batch = events(args.points, args.batch)
        total = sum(len(e.metrics_logged.keys) for e in batch)
        started = time.perf_counter()
        producer = KafkaProducer(**kafka.client_options(), acks="all", linger_ms=5)
        for e in batch:
            producer.send(
                kafka.events_topic, key=e.aggregate_id.encode(), value=e.SerializeToString()
            )
        producer.flush()
        producer.close()
        produce_s = time.perf_counter() - started
        size = sum(e.ByteSize() for e in batch)
        print(
            f"produced {total:,} points in {len(batch)} events ({size / 1e6:.1f} MB)"
            f" in {produce_s:.2f}s"
        )

        worker = Worker(settings, clickhouse)
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        started = time.monotonic()
        thread.start()
        while not (worker.drained() and worker.stats.points_written >= total):
            if not thread.is_alive():
                raise SystemExit("the worker died")
            time.sleep(0.01)
        done = time.monotonic()
        stop.set()
        thread.join(30)
        stored = clickhouse.query("SELECT count() FROM bench.metric_points").result_rows[0][0]
        assert stored == total, (stored, total)
        s = worker.stats
        print(
            f"worker: {s.batches} batches of {s.events_consumed / s.batches:.0f} events;"
            f" poll {s.poll_seconds:.2f}s, decode+project {s.project_seconds:.2f}s,"
            f" write {s.write_seconds:.2f}s"
        )
        elapsed = done - started
        print(f"end to end incl. group join: {total / elapsed:,.0f} points/s ({elapsed:.2f}s)")
        # the group join (about half the session timeout on Tansu) is not ingest work
        steady = done - (s.first_records_at or started)
        print(f"from the first polled records: {total / steady:,.0f} points/s ({steady:.2f}s)")
    finally:
        broker.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
