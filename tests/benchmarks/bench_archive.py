"""Event archive throughput: writing Avro files, and rebuilding the read models from them.

Builds POINTS metric points in MetricsLogged events of BATCH points (as bench_ingest.py)
over 4 partitions (keyed by run), archives them to a local directory with each codec
(records/s, MB/s of payload, compression ratio), then empties embedded Postgres + chDB and rebuilds
them from the archive (`rebuild_from_archive`, the first step of `tracklog replay`):
points/s. No broker is needed.

Usage: python tests/benchmarks/bench_archive.py [--points 1000000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
import uuid
import zlib
from pathlib import Path

from tracklog.contract.read_model.clickhouse_client import connect
from tracklog.contract.settings import KafkaSettings, Settings
from tracklog.deploy.embedded.postgres import EmbeddedPostgres, create_database
from tracklog.ingest.archive import format as archive_format
from tracklog.ingest.archive.event_archive import open_archive
from tracklog.ingest.archive.rebuild import rebuild_from_archive, wipe_read_models
from tracklog.ingest.records import Position, Record
from tracklog.v1 import events_pb2 as pb

PARTITIONS = 4
LOG = "bench.events@" + "5e" * 16
RUNS, KEYS = 10, ("loss", "accuracy", "learning_rate", "grad_norm")


def events(points: int, batch: int) -> list[pb.Envelope]:
    """Columnar MetricsLogged batches, round-robin over the runs (as bench_ingest.py)."""
    out: list[pb.Envelope] = []
    steps_per_event = max(1, batch // len(KEYS))
    next_step = [0] * RUNS
    for i in range(points // (steps_per_event * len(KEYS))):
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


def records(points: int, batch: int) -> list[Record]:
    offsets = [0] * PARTITIONS
    out: list[Record] = []
    for e in events(points, batch):
        partition = zlib.crc32(e.aggregate_id.encode()) % PARTITIONS
        position = Position(LOG, partition, offsets[partition])
        offsets[partition] += 1
        out.append(Record(position, e.aggregate_id.encode(), e.SerializeToString()))
    return out


def bench_write(recs: list[Record], root: Path, codec: str) -> None:
    archive_format.CODEC = codec
    archive = open_archive(str(root))
    started = time.perf_counter()
    for i in range(0, len(recs), 500):  # as the worker adds polled batches
        archive.add(recs[i : i + 500])
    archive.close()
    seconds = time.perf_counter() - started
    s = archive.stats
    print(
        f"write {codec:<10} {s.records / seconds:>10,.0f} records/s"
        f" {s.bytes_in / seconds / 1e6:>7.1f} MB/s  ratio {s.bytes_in / s.bytes_out:.2f}"
        f"  ({s.files} files, {s.bytes_out / 1e6:.1f} MB, {seconds:.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="tracklog-bench-archive-"))
    try:
        recs = records(args.points, args.batch)
        size = sum(len(r.value or b"") for r in recs)
        print(f"{len(recs):,} events, {args.points:,} points, {size / 1e6:.1f} MB of payload")
        for codec in ("deflate", "null", "zstandard"):  # the default last: rebuilt below
            root = tmp / f"archive-{codec}"
            bench_write(recs, root, codec)

        postgres = EmbeddedPostgres(tmp / "pgdata").start()
        try:
            create_database(postgres.dsn(), "bench")
            settings = Settings(
                kafka=KafkaSettings(events_topic="bench.events"),
                postgres_dsn=postgres.dsn("bench"),
                clickhouse_dsn=f"chdb://{tmp / 'ch'}",
                clickhouse_database="bench",
            )
            clickhouse = connect(settings.clickhouse_dsn)
            wipe_read_models(settings, clickhouse)
            report = rebuild_from_archive(settings, clickhouse, str(root))
            assert report.points == args.points, report
            print(
                f"rebuild: {report.points / report.seconds:,.0f} points/s,"
                f" {report.events / report.seconds:,.0f} events/s"
                f" ({report.files} files, {report.seconds:.2f} s)"
            )
        finally:
            postgres.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
