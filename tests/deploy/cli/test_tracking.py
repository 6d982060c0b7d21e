"""`tracklog runs search`, `tracklog runs get` and `tracklog experiments list` against a
running pipeline, called in-process."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.pipeline import running_pipeline
from tracklog import Metric, Param, Session, TracklogClient
from tracklog.contract.settings import Settings
from tracklog.data import Dataset
from tracklog.deploy.cli.main import main

pytestmark = pytest.mark.integration


def test_runs_and_experiments_commands_print_tables(
    settings: Settings,
    clickhouse_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with running_pipeline(settings, clickhouse_client) as pipeline:
        monkeypatch.setenv("TRACKLOG_QUERY_ADDR", pipeline.address)
        session = Session(settings.kafka, linger_seconds=0.005, query_addr=pipeline.address)
        with TracklogClient(session=session) as client:
            first = client.create_experiment("cli-a")
            second = client.create_experiment("cli-b")
            good = client.create_run(first, run_name="good").info.run_id
            bad = client.create_run(first, run_name="bad").info.run_id
            client.log_batch(good, [Metric("acc", 0.95, 1, 0)], [Param("lr", "0.1")])
            client.log_batch(bad, [Metric("acc", 0.5, 1, 0)], [Param("lr", "0.5")])
            client.log_input(good, Dataset("train", "d1g3st"), context="training")
            client.delete_experiment(second)
            client.get_run(good)  # waits until everything above is projected
        session.close(10)
        capsys.readouterr()

        assert main(["experiments", "list"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split() == ["EXPERIMENT", "ID", "NAME", "STAGE", "CREATED", "(UTC)"]
        assert [line.split()[1] for line in lines[2:]] == ["cli-a"]
        assert main(["experiments", "list", "--view", "all"]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 4

        assert (
            main(["runs", "search", "--experiment-id", first, "--filter", "metrics.acc > 0.9"]) == 0
        )
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split()[:4] == ["RUN", "ID", "NAME", "STATUS"]
        assert len(lines) == 3 and lines[2].split()[:3] == [good, "good", "RUNNING"]
        assert "acc=0.95" in lines[2] and "lr=0.1" in lines[2]
        assert main(["runs", "search", "--order-by", "metrics.acc ASC", "--max-results", "5"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [line.split()[1] for line in lines[2:]] == ["bad", "good"]

        assert main(["runs", "get", good]) == 0
        out = capsys.readouterr().out
        assert "experiment_id" in out and first in out and "acc     0.95" in out
        assert "train" in out and "training" in out

        assert main(["runs", "get", "missing"]) == 4  # NOT_FOUND
        assert "not found" in capsys.readouterr().err
        assert main(["runs", "search", "--filter", "metrics.acc >"]) == 2  # INVALID_ARGUMENT
        assert capsys.readouterr().err.startswith("error: ")
