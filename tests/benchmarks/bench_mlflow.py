"""MLflow's client on Tracklog against a plain `mlflow server` (sqlite store), one run.

Starts `tracklog up` (the embedded stack with MLflow's server over it) and a plain
`mlflow server --backend-store-uri sqlite:///...` on this machine, then times, for each
of three targets (`tracklog://` in this process, Tracklog's MLflow server over http, the
plain server over http):
  - `mlflow.log_metric` in a loop: points/s until the whole history reads back,
  - `MlflowClient.log_batch` with 1,000 metrics per call: points/s until it reads back,
and, on a metric of `--chart-points` points logged on both servers, the web UI's chart
request (`get-history-bulk-interval`, 320 samples): p50 over `--chart-requests` calls.
Each throughput figure is the median of `--repeats` runs (these machines are noisy).

Two ceilings are timed the same way (without the read back): MLflow's client over a store
that keeps nothing (`null://` in this process), and MLflow's server over it
(`mlflow_null_store.py`). No store can be faster than MLflow's own code around it, so
these bound what `tracklog://` and Tracklog's server can reach.

Usage: python tests/benchmarks/bench_mlflow.py [--repeats 5] [--loop-calls 20000]
       [--http-loop-calls 500] [--batches 50] [--http-batches 10]
       [--chart-points 1000000] [--chart-requests 20]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric

from tests.benchmarks import mlflow_null_store
from tests.mlflow_plugin.servers import wait_healthy
from tracklog.deploy.processes import free_port, port_open

BATCH = 1_000


@dataclass(frozen=True)
class Target:
    name: str
    uri: str
    loop_calls: int
    batches: int
    reads_back: bool = True  # False for the null store's ceilings: it keeps nothing


@contextmanager
def _process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=180)


@contextmanager
def tracklog_stack(work: Path) -> Iterator[tuple[str, str]]:
    """`tracklog up` with MLflow's server; (tracklog:// URI, server URL)."""
    broker, query, web = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "TRACKLOG_QUERY_ADDR": f"127.0.0.1:{query}",
        "TRACKLOG_SPOOL_DIR": str(work / "stack-spool"),
    }
    command = [
        sys.executable,
        "-m",
        "tracklog.deploy.cli.main",
        "up",
        "--data-dir",
        str(work / "data"),
    ]
    command += ["--broker-port", str(broker), "--mlflow-port", str(web)]
    with _process(command, env, work / "stack.log") as stack:
        url = f"http://127.0.0.1:{web}"
        while not port_open("127.0.0.1", query):
            if stack.poll() is not None:
                raise SystemExit("tracklog up exited")
            time.sleep(0.1)
        wait_healthy(url, stack, timeout=180)
        yield f"tracklog://127.0.0.1:{query}?bootstrap=127.0.0.1:{broker}", url


@contextmanager
def plain_server(work: Path) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    command += ["--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}"]
    command += ["--artifacts-destination", str(work / "plain-artifacts")]
    with _process(command, dict(os.environ), work / "plain.log") as server:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, server, timeout=180)
        yield url


@contextmanager
def null_server(work: Path) -> Iterator[str]:
    """MLflow's server over a store that keeps nothing (the server's own ceiling)."""
    port = free_port()
    registry = f"sqlite:///{work / 'null-registry.db'}"
    command = [sys.executable, mlflow_null_store.__file__, str(port), registry]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with _process(command, env, work / "null.log") as server:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, server, timeout=180)
        yield url


def _readback(client: MlflowClient, run_id: str, key: str, points: int) -> None:
    """Until the run's history of `key` holds `points` points (it must, sooner or later)."""
    deadline = time.monotonic() + 600
    while len(client.get_metric_history(run_id, key)) < points:
        if time.monotonic() > deadline:
            raise SystemExit(f"{run_id}/{key}: history incomplete after 600 s")
        time.sleep(0.01)


def loop_rate(target: Target, experiment_id: str) -> float:
    mlflow.set_tracking_uri(target.uri)
    client = MlflowClient(target.uri)
    started = time.perf_counter()
    with mlflow.start_run(experiment_id=experiment_id) as run:
        for step in range(target.loop_calls):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    if target.reads_back:
        _readback(client, run.info.run_id, "loss", target.loop_calls)
    return target.loop_calls / (time.perf_counter() - started)


def batch_rate(target: Target, experiment_id: str) -> float:
    client = MlflowClient(target.uri)
    run_id = client.create_run(experiment_id).info.run_id
    now = int(time.time() * 1000)
    started = time.perf_counter()
    for b in range(target.batches):
        metrics = [Metric("acc", s * 1e-6, now, b * BATCH + s) for s in range(BATCH)]
        client.log_batch(run_id, metrics=metrics)
    if target.reads_back:
        _readback(client, run_id, "acc", target.batches * BATCH)
    client.set_terminated(run_id)
    return target.batches * BATCH / (time.perf_counter() - started)


def _log_long_metric(uri: str, experiment_id: str, points: int) -> str:
    client = MlflowClient(uri)
    run_id = client.create_run(experiment_id, run_name="chart").info.run_id
    now = int(time.time() * 1000)
    for start in range(0, points, BATCH):
        steps = range(start, min(start + BATCH, points))
        client.log_batch(run_id, metrics=[Metric("curve", s * 1e-6, now + s, s) for s in steps])
    _readback_count(client, run_id, "curve", points)
    return str(run_id)


def _readback_count(client: MlflowClient, run_id: str, key: str, points: int) -> None:
    deadline = time.monotonic() + 900
    while client.get_run(run_id).data.metrics.get(key) != (points - 1) * 1e-6:
        if time.monotonic() > deadline:
            raise SystemExit(f"{run_id}/{key}: last point not readable after 900 s")
        time.sleep(0.05)


def chart_p50(url: str, run_id: str, requests: int) -> tuple[float, int]:
    query = f"run_ids={run_id}&metric_key=curve&max_results=320"
    address = f"{url}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?{query}"
    times, samples = [], 0
    for _ in range(requests):
        started = time.perf_counter()
        with urllib.request.urlopen(address, timeout=120) as reply:
            samples = len(json.loads(reply.read()).get("metrics", []))
        times.append(time.perf_counter() - started)
    return statistics.median(times), samples


def _median(measure: Callable[[Target, str], float], target: Target, repeats: int) -> float:
    experiment_id = MlflowClient(target.uri).create_experiment(f"bench-{time.time_ns()}")
    return statistics.median(measure(target, experiment_id) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop-calls", type=int, default=20_000)
    parser.add_argument("--http-loop-calls", type=int, default=500)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--http-batches", type=int, default=10)
    parser.add_argument("--chart-points", type=int, default=1_000_000)
    parser.add_argument("--chart-requests", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tracklog-bench-mlflow-"))
    os.environ["TRACKLOG_SPOOL_DIR"] = str(work / "client-spool")
    with (
        tracklog_stack(work) as (store_uri, tracklog_url),
        plain_server(work) as plain_url,
        null_server(work) as null_url,
    ):
        http_loop, http_batches = args.http_loop_calls, args.http_batches
        targets = [
            Target("tracklog:// (plugin)", store_uri, args.loop_calls, args.batches),
            Target("Tracklog's mlflow server", tracklog_url, http_loop, http_batches),
            Target("plain mlflow server", plain_url, http_loop, http_batches),
            Target(
                "ceiling: client, null store",
                mlflow_null_store.register(),
                args.loop_calls,
                args.batches,
                reads_back=False,
            ),
            Target("ceiling: server, null store", null_url, http_loop, http_batches, False),
        ]
        print(f"median of {args.repeats} runs, points/s until the history reads back")
        print(f"{'target':28} {'log_metric loop':>16} {'log_batch 1000':>16}")
        rates: dict[str, tuple[float, float]] = {}
        for target in targets:
            loop = _median(loop_rate, target, args.repeats)
            batch = _median(batch_rate, target, args.repeats)
            rates[target.name] = (loop, batch)
            print(f"{target.name:28} {loop:16,.0f} {batch:16,.0f}")
        plain = rates[targets[2].name]
        for target in (targets[0], targets[3], targets[1], targets[4]):
            loop, batch = rates[target.name]
            print(
                f"{target.name} / plain: {loop / plain[0]:.1f}x loop, {batch / plain[1]:.1f}x batch"
            )
        print(f"UI chart request, {args.chart_points:,}-point metric, p50 of {args.chart_requests}")
        for name, url, uri in (
            ("Tracklog", tracklog_url, store_uri),
            ("plain", plain_url, plain_url),
        ):
            experiment_id = MlflowClient(uri).create_experiment(f"chart-{time.time_ns()}")
            run_id = _log_long_metric(uri, experiment_id, args.chart_points)
            p50, samples = chart_p50(url, run_id, args.chart_requests)
            print(f"  {name:10} {p50 * 1000:8.1f} ms ({samples} samples)")


if __name__ == "__main__":
    main()
