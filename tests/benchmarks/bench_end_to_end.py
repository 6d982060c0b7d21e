"""End-to-end throughput: SDK -> Tansu -> worker -> chDB + Postgres -> queryable over gRPC.

Starts `tracklog up` in a separate process on a temporary data directory (as a user
would), logs RUNS x KEYS x STEPS metric points through the SDK from this process,
and prints:
  - the SDK's cost per logged point (time spent inside log_metrics calls),
  - end-to-end points/s from the first logging call until every run's latest value
    of every key is queryable through GetRun, and the metric histories are complete.

Usage: python tests/benchmarks/bench_end_to_end.py [--runs 10] [--keys 10] [--steps 10000]
       [--repeat 5]   (passes against one stack, fresh runs each; medians printed)
       [--spool-dir DIR|off]   (default: the disk spool in a temporary directory; run once
                                with `off` to see what the spool costs)
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import grpc
import psutil  # type: ignore[import-untyped]

from tracklog import Session
from tracklog.contract.settings import KafkaSettings, SpoolSettings
from tracklog.deploy.processes import free_port, port_open
from tracklog.v1 import query_pb2, query_pb2_grpc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--spool-dir", default="")
    parser.add_argument("--repeat", type=int, default=5, help="passes; medians are printed")
    args = parser.parse_args()
    spool_dir = args.spool_dir or tempfile.mkdtemp(prefix="tracklog-bench-spool-")
    spool = SpoolSettings(None if spool_dir == "off" else Path(spool_dir))
    total = args.runs * args.keys * args.steps
    broker_port, query_port = free_port(), free_port()
    data_dir = tempfile.mkdtemp(prefix="tracklog-bench-")
    env = {**os.environ, "TRACKLOG_QUERY_ADDR": f"127.0.0.1:{query_port}"}
    stack = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracklog.deploy.cli.main",
            "up",
            "--data-dir",
            data_dir,
            "--broker-port",
            str(broker_port),
            "--mlflow-port",
            "0",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not port_open("127.0.0.1", query_port):
            if stack.poll() is not None:
                raise SystemExit("tracklog up exited")
            time.sleep(0.1)
        time.sleep(4)  # let the worker join its consumer group first
        kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{broker_port}")
        watched = psutil.Process(stack.pid)
        passes = [
            one_pass(kafka, spool, watched, query_port, args.runs, args.keys, args.steps, n)
            for n in range(args.repeat)
        ]
        print(
            f"points per pass        {total:,} ({args.runs} runs x {args.keys} keys x "
            f"{args.steps} steps); {args.repeat} passes"
        )
        print(f"SDK disk spool         {spool.directory or 'off'}")
        print(f"sending                {os.environ.get('TRACKLOG_SHIPPER', 'thread (default)')}")
        for n, figures in enumerate(passes):
            print(
                f"  pass {n + 1}: {total / figures.queryable:>11,.0f} points/s; SDK "
                f"{figures.in_sdk / total * 1e6:.2f} us/point; logged {figures.logged:.2f} s, "
                f"acked {figures.acked:.2f} s, queryable {figures.queryable:.2f} s; history "
                f"{'complete' if figures.counted == total else f'INCOMPLETE ({figures.counted:,})'}"
            )
        print(
            f"SDK cost per point     {median(p.in_sdk for p in passes) / total * 1e6:.2f} us "
            f"(log_metrics with {args.keys} keys; median)"
        )
        print(f"logging wall time      {median(p.logged for p in passes):.2f} s (median)")
        print(f"acked by broker after  {median(p.acked for p in passes):.2f} s (median)")
        print(f"queryable after        {median(p.queryable for p in passes):.2f} s (median)")
        print(
            f"end-to-end throughput  {median(total / p.queryable for p in passes):,.0f} "
            "points/s (median)"
        )
        names = sorted({name for p in passes for name in p.cpu})
        print("CPU seconds from the first logging call until queryable (median), by process:")
        for name in sorted(names, key=lambda n: -median(p.cpu.get(n, 0.0) for p in passes)):
            print(f"  {median(p.cpu.get(name, 0.0) for p in passes):6.2f}  {name}")
        used = median(sum(p.cpu.values()) for p in passes)
        print(
            f"  {used:6.2f}  in all, against {median(p.queryable for p in passes):.2f} s of wall "
            f"time on {psutil.cpu_count()} cores"
        )
        if any(p.counted != total for p in passes):
            raise SystemExit("a pass's histories came back incomplete")
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(timeout=180)


def cpu_seconds(stack: psutil.Process) -> dict[str, float]:
    """CPU seconds (user + system) so far of this process and of each process of the stack
    (`tracklog up` and its children: broker, Postgres, worker, query service), by name."""
    spent = {"SDK (this process)": sum(psutil.Process().cpu_times()[:2])}
    for process in [stack, *stack.children(recursive=True)]:
        try:
            name = " ".join(process.cmdline()[1:4])[:40] or process.name()
            spent[name] = spent.get(name, 0.0) + sum(process.cpu_times()[:2])
        except psutil.Error:
            continue
    return spent


@dataclass(frozen=True)
class Pass:
    """Seconds from the first logging call, and what the histories returned."""

    in_sdk: float
    logged: float
    acked: float
    queryable: float
    counted: int
    cpu: dict[str, float]  # CPU seconds by process, first logging call to queryable


def one_pass(
    kafka: KafkaSettings,
    spool: SpoolSettings,
    stack: psutil.Process,
    query_port: int,
    runs: int,
    n_keys: int,
    steps: int,
    number: int,
) -> Pass:
    """Log runs x keys x steps points in fresh runs, then wait until all are queryable."""
    session = Session(kafka, spool=spool)
    session.set_experiment(f"bench-{number}")
    keys = [f"key_{k}" for k in range(n_keys)]
    run_ids = []
    in_sdk = 0.0
    cpu_before = cpu_seconds(stack)
    started = time.perf_counter()
    for r in range(runs):
        with session.start_run(run_name=f"bench-{number}-{r}") as run:
            run_ids.append(run.info.run_id)
            values = {key: 0.0 for key in keys}
            for step in range(steps):
                for i, key in enumerate(keys):
                    values[key] = step * 0.001 + i
                t0 = time.perf_counter()
                session.log_metrics(values, step=step)
                in_sdk += time.perf_counter() - t0
    logged = time.perf_counter()
    session.flush(timeout=600)
    acked = time.perf_counter()
    with grpc.insecure_channel(f"127.0.0.1:{query_port}") as channel:
        stub = query_pb2_grpc.QueryServiceStub(channel)
        pending = list(run_ids)
        while pending:
            try:
                projected = stub.GetRun(query_pb2.GetRunRequest(run_id=pending[0])).run
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                time.sleep(0.02)  # not projected yet
                continue
            latest = {m.key: m.step for m in projected.data.metrics}
            if all(latest.get(key) == steps - 1 for key in keys):
                pending.pop(0)
            else:
                time.sleep(0.02)
        queryable = time.perf_counter()
        cpu_after = cpu_seconds(stack)
        counted = 0
        for run_id in run_ids:
            for key in keys:
                request = query_pb2.GetMetricHistoryRequest(
                    run_id=run_id, metric_key=key, page_size=100_000, columnar=True
                )
                counted += len(stub.GetMetricHistory(request).steps)
    session.close()
    cpu = {name: spent - cpu_before.get(name, 0.0) for name, spent in cpu_after.items()}
    return Pass(in_sdk, logged - started, acked - started, queryable - started, counted, cpu)


if __name__ == "__main__":
    main()
