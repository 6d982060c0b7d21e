"""`tracklog up` as a user runs it: a separate process owning a data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from mlflow import MlflowClient

from tests.e2e.pipeline import wait_until
from tracklog import Session
from tracklog.contract.settings import KafkaSettings
from tracklog.deploy.processes import free_port, port_open
from tracklog.v1 import events_pb2, query_pb2, query_pb2_grpc, tracking_pb2

pytestmark = pytest.mark.integration


@contextmanager
def tracklog_up(
    data_dir: Path, broker_port: int, query_port: int, mlflow_port: int = 0
) -> Iterator[subprocess.Popen[str]]:
    env = {
        **os.environ,
        "TRACKLOG_QUERY_ADDR": f"127.0.0.1:{query_port}",
        # one partition: every event shares one offset sequence, so a restarted broker's
        # offsets overlap the ones the stores hold (see the last step of the test)
        "TRACKLOG_EVENTS_PARTITIONS": "1",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracklog.deploy.cli.main",
            "up",
            "--data-dir",
            str(data_dir),
            "--broker-port",
            str(broker_port),
            "--mlflow-port",
            str(mlflow_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a shell's foreground job
    )
    try:
        wait_until(
            lambda: process.poll() is not None or port_open("127.0.0.1", query_port),
            timeout=90,
            what="tracklog up to listen",
        )
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        yield process
    finally:
        if process.poll() is None:
            # Ctrl-C in a terminal: SIGINT to the whole foreground process group
            os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=150)
        assert process.returncode == 0, output
        assert "Stopped." in output
        assert ("mlflow UI" in output) == bool(mlflow_port), output


def log_run(bootstrap: str, name: str, steps: int) -> str:
    session = Session(KafkaSettings(bootstrap_servers=bootstrap))
    session.set_experiment("stack")
    with session.start_run(run_name=name) as run:
        session.log_param("steps", steps)
        for step in range(steps):
            session.log_metric("loss", 1.0 / (step + 1), step=step)
    assert session.flush(timeout=60)
    session.close()
    return str(run.info.run_id)


def found(stub: query_pb2_grpc.QueryServiceStub, ask: query_pb2.GetExperimentRequest) -> bool:
    try:
        stub.GetExperiment(ask)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return False
        raise
    return True


def history_length(stub: query_pb2_grpc.QueryServiceStub, run_id: str) -> int:
    request = query_pb2.GetMetricHistoryRequest(run_id=run_id, metric_key="loss", page_size=100_000)
    return len(stub.GetMetricHistory(request).points)


def test_restart_on_the_same_data_dir_keeps_everything(tmp_path: Path) -> None:
    broker_port, query_port, mlflow_port = free_port(), free_port(), free_port()
    bootstrap = f"127.0.0.1:{broker_port}"
    with tracklog_up(tmp_path, broker_port, query_port, mlflow_port):
        first = log_run(bootstrap, "first", 1_000)
        with grpc.insecure_channel(f"127.0.0.1:{query_port}") as channel:
            stub = query_pb2_grpc.QueryServiceStub(channel)
            wait_until(lambda: history_length(stub, first) == 1_000, what="the first run")
        # MLflow's server came up with the stack and reads the same run
        wait_until(lambda: port_open("127.0.0.1", mlflow_port), timeout=120, what="mlflow UI")
        served = MlflowClient(f"http://127.0.0.1:{mlflow_port}").get_run(first)
        assert served.data.params == {"steps": "1000"}
        assert len(served.data.metrics) == 1
        # the stack allows any artifact location (TRACKLOG_ARTIFACT_ROOTS=* for its
        # lifetime): an MLflow user still gives an experiment its own
        own = MlflowClient(f"http://127.0.0.1:{mlflow_port}").create_experiment(
            "own-location", artifact_location=str(tmp_path / "own")
        )
        with grpc.insecure_channel(f"127.0.0.1:{query_port}") as channel:
            stub = query_pb2_grpc.QueryServiceStub(channel)
            info = stub.GetServiceInfo(tracking_pb2.GetServiceInfoRequest())
            assert list(info.artifact_roots) == []
            # created through MLflow's server: an event, projected a moment later
            ask = query_pb2.GetExperimentRequest(experiment_id=own)
            wait_until(lambda: found(stub, ask), what="the experiment MLflow's server created")
            placed = stub.GetExperiment(ask)
            assert placed.experiment.artifact_location == str(tmp_path / "own")
        # logged and acknowledged, then the stack is stopped at once: draining keeps it
        second = log_run(bootstrap, "second", 5_000)

    with (
        tracklog_up(tmp_path, broker_port, query_port),
        grpc.insecure_channel(f"127.0.0.1:{query_port}") as channel,
    ):
        stub = query_pb2_grpc.QueryServiceStub(channel)
        for run_id, steps in ((first, 1_000), (second, 5_000)):
            run = stub.GetRun(query_pb2.GetRunRequest(run_id=run_id)).run
            assert run.info.status == events_pb2.RUN_STATUS_FINISHED
            assert {p.key: p.value for p in run.data.params} == {"steps": str(steps)}
            assert history_length(stub, run_id) == steps
        # the restarted (empty, in-memory) broker numbers offsets from 0 again: new events
        # must not be mistaken for ones the stores already hold
        third = log_run(bootstrap, "third", 2_000)
        wait_until(lambda: history_length(stub, third) == 2_000, what="a run logged after restart")

    # The stack is stopped: rebuild its read models from its event archive (which spans
    # both broker incarnations), then start it again: every run is still whole.
    replay = subprocess.run(
        [
            sys.executable,
            "-m",
            "tracklog.deploy.cli.main",
            "replay",
            "--yes",
            "--data-dir",
            tmp_path,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        # a root in the environment: the rebuild still allows any location, as the stack did
        env={**os.environ, "TRACKLOG_ARTIFACT_ROOT": str(tmp_path / "artifacts")},
    )
    assert replay.returncode == 0, replay.stderr
    assert "emptied" in replay.stderr and "8,000 points" in replay.stderr, replay.stderr
    with (
        tracklog_up(tmp_path, broker_port, query_port),
        grpc.insecure_channel(f"127.0.0.1:{query_port}") as channel,
    ):
        stub = query_pb2_grpc.QueryServiceStub(channel)
        for run_id, steps in ((first, 1_000), (second, 5_000), (third, 2_000)):
            run = stub.GetRun(query_pb2.GetRunRequest(run_id=run_id)).run
            assert run.info.status == events_pb2.RUN_STATUS_FINISHED
            assert {p.key: p.value for p in run.data.params} == {"steps": str(steps)}
            assert history_length(stub, run_id) == steps
        kept = stub.GetExperiment(query_pb2.GetExperimentRequest(experiment_id=own))
        assert kept.experiment.artifact_location == str(tmp_path / "own")
