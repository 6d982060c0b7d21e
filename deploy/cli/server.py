"""`tracklog server`: MLflow's server (REST API, artifact proxy, web UI) over a deployment.

Runs ``mlflow server --backend-store-uri tracklog://...`` for the deployment the
``TRACKLOG_*`` variables name (query service, broker, topic), serving artifacts from
``--artifacts-destination`` (default TRACKLOG_ARTIFACT_ROOT). Beside `tracklog ingest`
and `tracklog query`; it needs ``pip install 'tracklog[mlflow]'``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from tracklog.contract.settings import Settings
from tracklog.deploy import mlflow_server
from tracklog.deploy.cli.failures import missing_extra


def cmd_server(args: argparse.Namespace) -> int:
    if not mlflow_server.available():
        raise missing_extra("mlflow", "`tracklog server`", "No module named 'mlflow'")
    settings = Settings.from_env()
    artifacts = args.artifacts_destination or settings.artifact_root
    if not artifacts:
        print(
            "tracklog server: say where artifacts live: --artifacts-destination URI "
            "or TRACKLOG_ARTIFACT_ROOT (s3://bucket/path or a directory)",
            file=sys.stderr,
        )
        return 2
    argv = mlflow_server.server_argv(
        mlflow_server.store_uri(settings),
        artifacts,
        args.host,
        args.port,
        args.workers,
        extra=args.mlflow_args[1:] if args.mlflow_args[:1] == ["--"] else args.mlflow_args,
    )
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    try:
        return subprocess.run(argv, env=env, check=False).returncode
    except KeyboardInterrupt:
        return 130


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    server = sub.add_parser(
        "server", help="run MLflow's server and web UI over Tracklog (needs the mlflow extra)"
    )
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument("--port", type=int, default=mlflow_server.DEFAULT_PORT, help="port")
    server.add_argument("--workers", type=int, default=1, help="server worker processes")
    server.add_argument(
        "--artifacts-destination", default="", help="artifact root (TRACKLOG_ARTIFACT_ROOT)"
    )
    server.add_argument(
        "mlflow_args", nargs=argparse.REMAINDER, help="after --: more `mlflow server` options"
    )
    server.set_defaults(func=cmd_server)
