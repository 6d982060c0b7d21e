"""`tracklog import mlflow` throughput: points/s from a sqlite MLflow store into Tracklog.

Starts `tracklog up` in a separate process on a temporary data directory, then, REPEAT
times: fills a new sqlite MLflow store with RUNS runs x METRICS metrics x STEPS steps
(runs made through MLflow's client, the points inserted in bulk into its tables, which
is what log_batch would leave there, only faster) and imports it, timing from the
start of the import until the worker has applied every event (the import waits for
it). Prints each repetition's points/s and the median.

Usage: python tests/benchmarks/bench_import.py [--runs 100] [--metrics 10] [--steps 10000]
       [--repeat 3]      (a quick look: --runs 10 --steps 1000)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlflow import MlflowClient

from tracklog.contract.settings import KafkaSettings
from tracklog.deploy.processes import free_port, port_open
from tracklog.mlflow.importer.importer import ImportOptions, import_mlflow


def fill(path: Path, runs: int, metrics: int, steps: int) -> int:
    """A sqlite MLflow store with the runs; the number of points."""
    uri = f"sqlite:///{path}"
    client = MlflowClient(uri)
    experiment = client.create_experiment(f"bench-{path.stem}")
    run_ids = []
    for r in range(runs):
        run = client.create_run(experiment, run_name=f"run-{r}")
        client.log_param(run.info.run_id, "r", str(r))
        client.set_terminated(run.info.run_id)
        run_ids.append(run.info.run_id)
    keys = [f"metric_{k}" for k in range(metrics)]
    with sqlite3.connect(path) as db:
        for run_id in run_ids:
            rows = [
                (key, step * 0.001 + k, 1_700_000_000_000 + step, run_id, step, 0)
                for k, key in enumerate(keys)
                for step in range(steps)
            ]
            db.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.executemany(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
                " VALUES (?, ?, ?, ?, 0, ?)",
                [
                    (key, (steps - 1) * 0.001 + k, 1_700_000_000_000 + steps - 1, steps - 1, run_id)
                    for k, key in enumerate(keys)
                ],
            )
    return runs * metrics * steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    broker_port, query_port = free_port(), free_port()
    data_dir = tempfile.mkdtemp(prefix="tracklog-bench-import-")
    stores = Path(tempfile.mkdtemp(prefix="tracklog-bench-mlflow-"))
    env = {**os.environ, "TRACKLOG_QUERY_ADDR": f"127.0.0.1:{query_port}"}
    command = [sys.executable, "-m", "tracklog.deploy.cli.main", "up", "--data-dir", data_dir]
    command += ["--broker-port", str(broker_port), "--mlflow-port", "0"]
    stack = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rates: list[float] = []
    try:
        while not port_open("127.0.0.1", query_port):
            if stack.poll() is not None:
                raise SystemExit("tracklog up exited")
            time.sleep(0.1)
        time.sleep(4)  # let the worker join its consumer group first
        kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{broker_port}")
        for n in range(args.repeat):
            store = stores / f"store{n}.db"
            t0 = time.perf_counter()
            points = fill(store, args.runs, args.metrics, args.steps)
            filled = time.perf_counter() - t0
            options = ImportOptions(
                source=f"sqlite:///{store}",
                kafka=kafka,
                query_addr=f"127.0.0.1:{query_port}",
                registry=False,
            )
            summary = import_mlflow(options)
            store.unlink()  # over 2 GB at the default size
            assert summary.points == points and summary.projected, summary
            rate = points / summary.seconds
            rates.append(rate)
            print(
                f"repetition {n + 1}: {points:,} points ({args.runs} runs x {args.metrics} "
                f"metrics x {args.steps} steps) imported and applied in {summary.seconds:.1f} s: "
                f"{rate:,.0f} points/s (store filled in {filled:.1f} s)",
                flush=True,
            )
        print(f"median import rate: {statistics.median(rates):,.0f} points/s")
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(timeout=180)
        shutil.rmtree(stores, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
