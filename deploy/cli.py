"""The `tracklog` command: up, ingest, query, server, demo, models, runs, experiments."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from tracklog.deploy import (
    cli_dlq,
    cli_models,
    cli_replay,
    cli_server,
    cli_spool,
    cli_status,
    cli_tracking,
    mlflow_server,
)
from tracklog.settings import Settings


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


_STACK_PROCESS = "TRACKLOG_UP_STACK_PROCESS"


def _run_stack_in_own_session(argv: Sequence[str]) -> int:
    """Run the stack in a child process with its own session, relaying Ctrl-C as SIGTERM.

    A terminal's Ctrl-C signals its whole foreground process group: the broker and
    Postgres child processes would die at once, before the worker drained the topic.
    In a session of their own only this process sees the signal, and the stack is
    asked to stop once, in order.
    """
    child = subprocess.Popen(
        [sys.executable, "-m", "tracklog.deploy.cli", *argv],
        env={**os.environ, _STACK_PROCESS: "1"},
        start_new_session=True,
    )

    def relay(signum: int, frame: object) -> None:
        child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, relay)
    signal.signal(signal.SIGTERM, relay)
    return child.wait()


def cmd_up(args: argparse.Namespace) -> int:
    if os.environ.get(_STACK_PROCESS) != "1":
        return _run_stack_in_own_session(args.argv)
    from tracklog.deploy.stack import EmbeddedStack

    settings = Settings.from_env()
    stack = EmbeddedStack(Path(args.data_dir), settings=settings, broker_port=args.broker_port)
    stop = _stop_on_signals()
    try:
        stack.start()
        # The SDK (and the demo) in this process write artifacts under the stack's root.
        os.environ["TRACKLOG_ARTIFACT_ROOT"] = stack.settings.artifact_root
        if args.mlflow_port:
            stack.start_mlflow(args.mlflow_port)
        print("Tracklog is up:", flush=True)
        for name, value in stack.endpoints().items():
            print(f"  {name:<14} {value}", flush=True)
        if stack.mlflow_url:
            print(f"Open {stack.mlflow_url} in a browser: MLflow's web UI over Tracklog.")
        elif args.mlflow_port and not mlflow_server.available():
            print("MLflow's web UI: pip install 'tracklog[mlflow]' and start again.")
        print("Ctrl-C stops it (after the worker has drained the topic).", flush=True)
        if args.demo:
            from tracklog.deploy.demo import run_demo

            demo_settings = stack.settings
            threading.Thread(
                target=run_demo,
                args=(demo_settings, stack.endpoints()["query (gRPC)"]),
                name="tracklog-demo",
                daemon=True,
            ).start()
        stack.supervise(stop.is_set)
    finally:
        print("Stopping: draining the topic...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from tracklog.ingest.worker import run_worker

    run_worker(Settings.from_env())
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from tracklog.query.server import serve

    serve(Settings.from_env())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tracklog.deploy.demo import run_demo

    settings = Settings.from_env()
    return 0 if run_demo(settings, settings.query_addr) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracklog", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the embedded stack (broker, Postgres, chDB, worker, query)")
    up.add_argument("--data-dir", default="./tracklog-data", help="where all data lives")
    up.add_argument("--broker-port", type=int, default=9092, help="Tansu's port (default 9092)")
    up.add_argument("--demo", action="store_true", help="run the demo once the stack is up")
    up.add_argument(
        "--mlflow-port",
        type=int,
        default=mlflow_server.DEFAULT_PORT,
        help="MLflow's server and web UI on 127.0.0.1 (default 5000; 0: not started). Needs "
        "the mlflow extra",
    )
    up.set_defaults(func=cmd_up)

    ingest = sub.add_parser("ingest", help="run the ingest worker against external services")
    ingest.set_defaults(func=cmd_ingest)
    query = sub.add_parser("query", help="run the gRPC query service against external services")
    query.set_defaults(func=cmd_query)
    demo = sub.add_parser("demo", help="train a small model, log it, print what the service says")
    demo.set_defaults(func=cmd_demo)
    cli_models.add_parser(sub)
    cli_tracking.add_parsers(sub)
    cli_status.add_parser(sub)
    cli_dlq.add_parser(sub)
    cli_spool.add_parser(sub)
    cli_replay.add_parser(sub)
    cli_server.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
