"""GetMetricSeries and CompareRuns latency over gRPC, on embedded chDB and Postgres.

Fills chDB with one run of 1,000,000 points and 100 runs of 10,000 points (one
metric each), Postgres with those runs (params, latest metrics), starts the
query server on port 0 in this process and prints p50 / p95 of:
  - 1M points -> 1,000 (LTTB and MIN_MAX_AVG),
  - 100 runs x 10,000 points -> 500 each (LTTB and MIN_MAX_AVG),
  - CompareRuns of 10 runs.

Usage: python tests/benchmarks/bench_series.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import psycopg

from tracklog.contract.read_model import clickhouse_schema as schema_clickhouse
from tracklog.contract.read_model import postgres_schema as schema_postgres
from tracklog.contract.read_model.clickhouse_client import connect
from tracklog.contract.settings import Settings
from tracklog.deploy.embedded.postgres import EmbeddedPostgres
from tracklog.query.server import create_server
from tracklog.v1 import query_pb2_grpc, series_pb2

DATABASE = "bench"
COLUMNS = ["run_id", "key", "step", "timestamp_ms", "value", "topic", "partition", "offset"]
T0 = 1_700_000_000_000


def _insert(client: Any, run_id: str, n: int, rng: np.random.Generator) -> None:
    steps = np.arange(n, dtype=np.int64)
    columns = [
        [run_id] * n,
        ["loss"] * n,
        steps,
        T0 + steps * 10,
        rng.standard_normal(n).cumsum(),
        ["bench"] * n,
        np.zeros(n, dtype=np.uint16),
        steps.astype(np.uint64),
    ]
    client.insert(f"{DATABASE}.metric_points", columns, column_names=COLUMNS, column_oriented=True)


def _fill_postgres(dsn: str, runs: list[str]) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(dsn, autocommit=True) as conn:
        schema_postgres.migrate(conn)
        conn.execute(
            "INSERT INTO experiments (experiment_id, name, creation_time, last_update_time)"
            " VALUES ('e', 'bench', %s, %s)",
            (now, now),
        )
        for i, run_id in enumerate(runs):
            conn.execute(
                "INSERT INTO runs (run_id, experiment_id, status, start_time)"
                " VALUES (%s, 'e', 'FINISHED', %s)",
                (run_id, now),
            )
            for key, value in (("lr", str(0.1 / (1 + i % 3))), ("seed", "7"), ("opt", "adam")):
                conn.execute("INSERT INTO params VALUES (%s, %s, %s)", (run_id, key, value))
            conn.execute(
                "INSERT INTO latest_metrics VALUES (%s, 'loss', 9999, %s, 0.5)", (run_id, T0)
            )


def _measure(label: str, call: Callable[[], Any], repeat: int) -> None:
    call()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    p50, p95 = np.percentile(times, [50, 95])
    print(f"{label:<44} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tracklog-bench-series-"))
    postgres = EmbeddedPostgres(root / "pg").start()
    try:
        clickhouse = connect(f"chdb://{root / 'chdb'}")
        schema_clickhouse.migrate(clickhouse, DATABASE)
        rng = np.random.default_rng(1)
        _insert(clickhouse, "big", 1_000_000, rng)
        runs = [f"run{i:03d}" for i in range(100)]
        for run_id in runs:
            _insert(clickhouse, run_id, 10_000, rng)
        clickhouse.command(f"OPTIMIZE TABLE {DATABASE}.metric_points FINAL")
        _fill_postgres(postgres.dsn(), runs)
        settings = Settings(
            postgres_dsn=postgres.dsn(), clickhouse_dsn="", clickhouse_database=DATABASE
        )
        server, port = create_server("127.0.0.1:0", settings, clickhouse)
        server.start()
        options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
            stub = query_pb2_grpc.QueryServiceStub(channel)

            def series(run_ids: list[str], points: int, mode: Any) -> Callable[[], Any]:
                request = series_pb2.GetMetricSeriesRequest(
                    run_ids=run_ids, metric_keys=["loss"], max_points=points, mode=mode
                )
                return lambda: stub.GetMetricSeries(request, timeout=60)

            lttb, mma = series_pb2.DOWNSAMPLE_MODE_LTTB, series_pb2.DOWNSAMPLE_MODE_MIN_MAX_AVG
            _measure("1M points -> 1,000 LTTB", series(["big"], 1000, lttb), args.repeat)
            _measure("1M points -> 1,000 MIN_MAX_AVG", series(["big"], 1000, mma), args.repeat)
            _measure("100 runs x 10k -> 500 LTTB", series(runs, 500, lttb), args.repeat)
            _measure("100 runs x 10k -> 500 MIN_MAX_AVG", series(runs, 500, mma), args.repeat)
            compare = series_pb2.CompareRunsRequest(run_ids=runs[:10])
            _measure(
                "CompareRuns of 10 runs", lambda: stub.CompareRuns(compare, timeout=60), args.repeat
            )
        server.stop(None).wait(10)
    finally:
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
