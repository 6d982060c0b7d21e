"""End-to-end throughput: SDK -> Tansu -> worker -> chDB + Postgres -> queryable over gRPC.

Starts `tracklog up` in a separate process on a temporary data directory (as a user
would), logs RUNS x KEYS x STEPS metric points through the SDK from this process,
and prints:
  - the SDK's cost per logged point (time spent inside log_metrics calls),
  - end-to-end points/s from the first logging call until every run's latest value
    of every key is queryable through GetRun, and the metric histories are complete.

Usage: python tests/benchmarks/bench_end_to_end.py [--runs 10] [--keys 10] [--steps 10000]
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
from pathlib import Path

import grpc

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
        session = Session(kafka, spool=spool)
        session.set_experiment("bench")
        keys = [f"key_{k}" for k in range(args.keys)]
        run_ids = []
        in_sdk = 0.0
        started = time.perf_counter()
        for r in range(args.runs):
            with session.start_run(run_name=f"bench-{r}") as run:
                run_ids.append(run.info.run_id)
                values = {key: 0.0 for key in keys}
                for step in range(args.steps):
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
                if all(latest.get(key) == args.steps - 1 for key in keys):
                    pending.pop(0)
                else:
                    time.sleep(0.02)
            queryable = time.perf_counter()
            counted = 0
            for run_id in run_ids:
                for key in keys:
                    request = query_pb2.GetMetricHistoryRequest(
                        run_id=run_id, metric_key=key, page_size=100_000
                    )
                    counted += len(stub.GetMetricHistory(request).points)
        session.close()
        print(
            f"points logged          {total:,} ({args.runs} runs x {args.keys} keys x "
            f"{args.steps} steps)"
        )
        print(f"SDK disk spool         {spool.directory or 'off'}")
        print(
            f"SDK cost per point     {in_sdk / total * 1e6:.2f} us "
            f"(log_metrics with {args.keys} keys)"
        )
        print(f"logging wall time      {logged - started:.2f} s")
        print(f"acked by broker after  {acked - started:.2f} s")
        print(f"queryable after        {queryable - started:.2f} s")
        print(f"end-to-end throughput  {total / (queryable - started):,.0f} points/s")
        print(
            f"history check          {counted:,} points returned by GetMetricHistory "
            f"({'complete' if counted == total else 'INCOMPLETE'})"
        )
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(timeout=180)


if __name__ == "__main__":
    main()
