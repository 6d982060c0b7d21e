"""Query service latency and throughput over gRPC, on embedded chDB and Postgres.

Fills chDB with one metric of POINTS points (plus a neighbour run so the read
is a range, not the whole table) and one of HISTORY_POINTS points, and Postgres
with RUNS runs over 10 experiments (params, tags, latest metrics), starts the
query server on port 0 in this process and prints:
  - the full history of the HISTORY_POINTS-point metric as a client reads it
    (median of `--repeat` reads, one call each): GetMetricHistory with
    `columnar` (what TracklogClient and the MLflow plugin ask for), the same
    point by point (MetricPoint messages), and StreamMetricHistory,
  - p50 latency of GetMetricHistory pages of 10,000 points,
  - the full history read (all pages of 10,000 and of 100,000 points) in points/s,
  - p50 latency of GetRun and of SearchRuns with a param filter.

Usage: python tests/benchmarks/bench_query.py [--points 1000000] [--runs 10000]
       [--history-points 100000] [--repeat 9]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import psycopg

from tracklog.contract.read_model import clickhouse_schema as schema_clickhouse
from tracklog.contract.read_model import postgres_schema as schema_postgres
from tracklog.contract.read_model.clickhouse_client import connect
from tracklog.contract.settings import Settings
from tracklog.deploy.embedded.postgres import EmbeddedPostgres
from tracklog.query.server import create_server
from tracklog.v1 import query_pb2, query_pb2_grpc, series_pb2

DATABASE = "bench"
EXPERIMENTS = 10
LEARNING_RATES = [
    f"{x:g}" for x in (0.1, 0.03, 0.01, 0.003, 0.001, 0.0003, 0.0001, 3e-5, 1e-5, 3e-6)
]
T0 = datetime(2024, 1, 1, tzinfo=UTC)


HISTORY_RUN = "run-history"


def fill_clickhouse(client: Any, points: int, history_points: int = 0) -> None:
    schema_clickhouse.migrate(client, DATABASE)
    columns = ["run_id", "key", "step", "timestamp_ms", "value", "topic", "partition", "offset"]
    for run_id, count in (
        ("run-00000", points),
        ("run-00001", points),
        (HISTORY_RUN, history_points),
    ):
        chunk = 250_000
        for start in range(0, count, chunk):
            steps = list(range(start, min(count, start + chunk)))
            n = len(steps)
            data = [
                [run_id] * n,
                ["loss"] * n,
                steps,
                [1_700_000_000_000 + s for s in steps],
                [1.0 / (1 + s) for s in steps],
                ["tracklog.events"] * n,
                [0] * n,
                steps,
            ]
            client.insert(
                f"{DATABASE}.metric_points", data, column_names=columns, column_oriented=True
            )


def fill_postgres(dsn: str, runs: int) -> None:
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
                    copy.write_row(
                        (
                            f"run-{i:05d}",
                            f"exp-{i % EXPERIMENTS}",
                            f"run {i}",
                            "FINISHED",
                            start,
                            start + timedelta(hours=1),
                        )
                    )
            for table, rows in (
                (
                    "params",
                    lambda i: [
                        ("lr", LEARNING_RATES[i // EXPERIMENTS % 10]),
                        ("batch_size", str(2 ** (i % 7))),
                        ("seed", str(i)),
                    ],
                ),
                ("tags", lambda i: [("team", f"team-{i % 3}"), ("mlflow.user", "bench")]),
            ):
                with cur.copy(f"COPY {table} (run_id, key, value) FROM STDIN") as copy:
                    for i in range(runs):
                        for key, value in rows(i):
                            copy.write_row((f"run-{i:05d}", key, value))
            with cur.copy(
                "COPY latest_metrics (run_id, key, step, timestamp_ms, value) FROM STDIN"
            ) as copy:
                for i in range(runs):
                    for k, key in enumerate(("loss", "accuracy", "lr")):
                        copy.write_row((f"run-{i:05d}", key, 999, 1_700_000_000_000, i / (k + 1)))
        conn.execute("ANALYZE")


def p50_ms(call: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def median_ms(call: Callable[[], object], repeat: int) -> float:
    call()  # warm up
    return p50_ms(call, repeat)


def full_history_figures(stub: query_pb2_grpc.QueryServiceStub, points: int, repeat: int) -> None:
    """The whole HISTORY_RUN metric in one call, three ways, as medians of `repeat` reads."""

    def columnar() -> None:
        request = query_pb2.GetMetricHistoryRequest(
            run_id=HISTORY_RUN, metric_key="loss", page_size=points, columnar=True
        )
        reply = stub.GetMetricHistory(request, timeout=120)
        assert len(reply.values) == points and not reply.next_page_token, len(reply.values)

    def point_by_point() -> None:
        request = query_pb2.GetMetricHistoryRequest(
            run_id=HISTORY_RUN, metric_key="loss", page_size=points
        )
        reply = stub.GetMetricHistory(request, timeout=120)
        assert len(reply.points) == points and not reply.next_page_token, len(reply.points)

    def streamed() -> None:
        request = series_pb2.StreamMetricHistoryRequest(
            run_id=HISTORY_RUN, metric_key="loss", chunk_size=points
        )
        count = sum(len(chunk.values) for chunk in stub.StreamMetricHistory(request, timeout=120))
        assert count == points, count

    for label, call in (
        ("GetMetricHistory, columnar", columnar),
        ("GetMetricHistory, point by point", point_by_point),
        ("StreamMetricHistory", streamed),
    ):
        print(
            f"full history of {points:,} points, {label}:"
            f" median {median_ms(call, repeat):.1f} ms of {repeat}"
        )


def read_history(
    stub: query_pb2_grpc.QueryServiceStub, page_size: int
) -> tuple[int, float, list[str]]:
    """(points, seconds, page tokens) for the whole history of run-00000/loss."""
    count, token, tokens = 0, "", [""]
    started = time.perf_counter()
    while True:
        reply = stub.GetMetricHistory(
            query_pb2.GetMetricHistoryRequest(
                run_id="run-00000", metric_key="loss", page_size=page_size, page_token=token
            ),
            timeout=120,
        )
        count += len(reply.points)
        token = reply.next_page_token
        if not token:
            return count, time.perf_counter() - started, tokens
        tokens.append(token)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--history-points", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    if not 1 <= args.history_points <= 100_000:
        parser.error("--history-points must be in [1, 100000] (one page)")
    root = Path(tempfile.mkdtemp(prefix="tracklog-bench-query-"))
    postgres = EmbeddedPostgres(root / "pgdata").start()
    try:
        client = connect(f"chdb://{root / 'chdb'}")
        started = time.perf_counter()
        fill_clickhouse(client, args.points, args.history_points)
        print(
            f"filled chDB: 2 x {args.points:,} + {args.history_points:,} points"
            f" in {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        fill_postgres(postgres.dsn(), args.runs)
        print(f"filled Postgres: {args.runs:,} runs in {time.perf_counter() - started:.1f} s")
        settings = Settings(postgres_dsn=postgres.dsn(), clickhouse_database=DATABASE)
        server, port = create_server("127.0.0.1:0", settings, client)
        server.start()
        options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
            stub = query_pb2_grpc.QueryServiceStub(channel)
            full_history_figures(stub, args.history_points, args.repeat)
            run_benchmarks(stub, args.points, args.runs)
        server.stop(None).wait(10)
        client.close()
    finally:
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


def run_benchmarks(stub: query_pb2_grpc.QueryServiceStub, points: int, runs: int) -> None:
    count, _, tokens = read_history(stub, 10_000)  # warm-up, and the page tokens
    assert count == points, count
    rng = random.Random(1)

    def history_page() -> None:
        token = rng.choice(tokens)
        stub.GetMetricHistory(
            query_pb2.GetMetricHistoryRequest(
                run_id="run-00000", metric_key="loss", page_token=token
            )
        )

    print(f"GetMetricHistory page of 10,000 points: p50 {p50_ms(history_page, 100):.1f} ms")
    for page_size in (10_000, 100_000):
        best = min(read_history(stub, page_size)[1] for _ in range(3))
        print(
            f"full history of {points:,} points, pages of {page_size:,}: {best:.2f} s,"
            f" {points / best:,.0f} points/s"
        )

    def get_run() -> None:
        run_id = f"run-{rng.randrange(runs):05d}"
        stub.GetRun(query_pb2.GetRunRequest(run_id=run_id))

    print(f"GetRun: p50 {p50_ms(get_run, 500):.2f} ms")
    experiments = [f"exp-{e}" for e in range(EXPERIMENTS)]

    def search(lr_matches: int) -> Callable[[], None]:
        def call() -> None:
            reply = stub.SearchRuns(
                query_pb2.SearchRunsRequest(
                    experiment_ids=experiments,
                    param_equals={"lr": rng.choice(LEARNING_RATES)},
                    page_size=lr_matches,
                )
            )
            assert len(reply.runs) == min(lr_matches, runs // 10), len(reply.runs)

        return call

    for page_size in (100, 1000):
        print(
            f"SearchRuns over {runs:,} runs, param lr = x ({runs // 10:,} match),"
            f" page of {page_size:,}: p50 {p50_ms(search(page_size), 50):.1f} ms"
        )

    def search_two_params() -> None:
        stub.SearchRuns(
            query_pb2.SearchRunsRequest(
                experiment_ids=experiments,
                param_equals={"lr": rng.choice(LEARNING_RATES), "batch_size": "8"},
                tag_equals={"team": "team-1"},
            )
        )

    print(
        "SearchRuns with two params and a tag (~48 match): "
        f"p50 {p50_ms(search_two_params, 50):.1f} ms"
    )


if __name__ == "__main__":
    main()
