"""SearchRuns with the filter language, through gRPC, on embedded Postgres.

Fills Postgres (bulk COPY) with RUNS runs over 10 experiments, each with 4
params (`lr` one of 3 values), 2 tags and 3 latest metrics (`acc` uniform in
[0, 1)), starts the query server on port 0 in this process and prints the
median and p95 latency (over `--repeat` calls) of SearchRuns over all
experiments with `metrics.acc > 0.5 and params.lr = '0.01'` (about 1/6 of the
runs match: 503 of the default 3,000), for a page of 1,000 runs (MLflow's
default: every match), of 100, and with `order_by`.

Then the bounds on a filter's size, as figures (medians of `--repeat`): how long
a 4 MB SearchRuns filter takes to be refused through gRPC, and how long the
clause tokenizer takes over a 1.1 MB experiment filter.

Usage: python tests/benchmarks/bench_search.py [--runs 3000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import functools
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import psycopg

from tracklog.contract.read_model import postgres_schema as schema_postgres
from tracklog.contract.settings import Settings
from tracklog.deploy.embedded.postgres import EmbeddedPostgres
from tracklog.query.filters.clauses import _tokens as clause_tokens
from tracklog.query.server import create_server
from tracklog.v1 import query_pb2, query_pb2_grpc

EXPERIMENTS = 10
LEARNING_RATES = ["0.1", "0.01", "0.001"]
FILTER = "metrics.acc > 0.5 and params.lr = '0.01'"
FOUR_MB = 4_000_000
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def fill_postgres(dsn: str, runs: int) -> None:
    rng = random.Random(24)  # 503 of 3,000 runs match FILTER
    with psycopg.connect(dsn) as conn:
        schema_postgres.migrate(conn)
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(
                "COPY experiments (experiment_id, name, creation_time, last_update_time) FROM STDIN"
            ) as copy:
                for e in range(EXPERIMENTS):
                    copy.write_row((f"exp-{e}", f"experiment {e}", T0, T0))
            with cur.copy(
                "COPY runs (run_id, experiment_id, run_name, status, start_time, end_time)"
                " FROM STDIN"
            ) as copy:
                for i in range(runs):
                    start = T0 + timedelta(seconds=i)
                    row = (f"run-{i:06d}", f"exp-{i % EXPERIMENTS}", f"run {i}", "FINISHED")
                    copy.write_row((*row, start, start + timedelta(hours=1)))
            with cur.copy("COPY params (run_id, key, value) FROM STDIN") as copy:
                for i in range(runs):
                    run_id = f"run-{i:06d}"
                    copy.write_row((run_id, "lr", rng.choice(LEARNING_RATES)))
                    copy.write_row((run_id, "batch_size", str(2 ** (i % 7))))
                    copy.write_row((run_id, "optimizer", rng.choice(["adam", "sgd", "lion"])))
                    copy.write_row((run_id, "seed", str(i)))
            with cur.copy("COPY tags (run_id, key, value) FROM STDIN") as copy:
                for i in range(runs):
                    copy.write_row((f"run-{i:06d}", "team", f"team-{i % 3}"))
                    copy.write_row((f"run-{i:06d}", "mlflow.user", "bench"))
            with cur.copy(
                "COPY latest_metrics (run_id, key, step, timestamp_ms, value) FROM STDIN"
            ) as copy:
                for i in range(runs):
                    acc = rng.random()
                    for key, value in (("acc", acc), ("loss", 1 - acc), ("f1", rng.random())):
                        copy.write_row((f"run-{i:06d}", key, 99, 1_700_000_000_000, value))
        conn.execute("ANALYZE")


def percentiles_ms(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, p95) in milliseconds of `repeat` calls, after one warm-up call."""
    call()  # warm up
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[max(0, int(len(timings) * 0.95) - 1)]


def filter_bounds(stub: query_pb2_grpc.QueryServiceStub, repeat: int) -> None:
    """How long the filter-size bounds take: a refused 4 MB filter, a 1.1 MB tokenization."""
    clause = "params.lr = '0.1' AND "
    huge = (clause * (FOUR_MB // len(clause) + 1))[:FOUR_MB]
    request = query_pb2.SearchRunsRequest(experiment_ids=["exp-0"], filter=huge)

    def refused() -> None:
        try:
            stub.SearchRuns(request, timeout=60)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
        else:
            raise AssertionError("a 4 MB filter was accepted")

    p50, p95 = percentiles_ms(refused, repeat)
    print(f"SearchRuns with a 4 MB filter refused: median {p50:.1f} ms, p95 {p95:.1f} ms")
    text = " AND ".join(["name = 'abcdefgh'"] * 50_000)
    p50, p95 = percentiles_ms(functools.partial(clause_tokens, text), repeat)
    print(
        f"clause tokenizer over a {len(text) / 1e6:.1f} MB filter:"
        f" median {p50:.1f} ms, p95 {p95:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tracklog-bench-search-"))
    postgres = EmbeddedPostgres(root / "pgdata").start()
    try:
        started = time.perf_counter()
        fill_postgres(postgres.dsn(), args.runs)
        print(f"filled Postgres: {args.runs:,} runs in {time.perf_counter() - started:.1f} s")
        settings = Settings(postgres_dsn=postgres.dsn(), clickhouse_dsn=f"chdb://{root / 'chdb'}")
        server, port = create_server("127.0.0.1:0", settings)
        server.start()
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = query_pb2_grpc.QueryServiceStub(channel)
                experiments = [f"exp-{e}" for e in range(EXPERIMENTS)]
                cases: list[tuple[str, query_pb2.SearchRunsRequest]] = [
                    (
                        f"{FILTER!r}, page of {size}",
                        query_pb2.SearchRunsRequest(
                            experiment_ids=experiments, filter=FILTER, page_size=size
                        ),
                    )
                    for size in (1000, 100)
                ]
                cases.append(
                    (
                        f"{FILTER!r}, order_by metrics.acc DESC, params.optimizer, page of 100",
                        query_pb2.SearchRunsRequest(
                            experiment_ids=experiments,
                            filter=FILTER,
                            order_by=["metrics.acc DESC", "params.optimizer"],
                            page_size=100,
                        ),
                    )
                )
                for label, request in cases:
                    matched = len(stub.SearchRuns(request, timeout=60).runs)
                    call = functools.partial(stub.SearchRuns, request, timeout=60)
                    p50, p95 = percentiles_ms(call, args.repeat)
                    print(
                        f"SearchRuns over {args.runs:,} runs, {label}: {matched} runs,"
                        f" median {p50:.1f} ms, p95 {p95:.1f} ms"
                    )
                filter_bounds(stub, args.repeat)
        finally:
            server.stop(None).wait(10)
    finally:
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
