"""`tracklog models list` and `tracklog models versions NAME` against a running pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.pipeline import running_pipeline
from tracklog import RegistryClient
from tracklog.contract.settings import Settings
from tracklog.deploy.cli.main import main
from tracklog.deploy.cli.models import table

pytestmark = pytest.mark.integration


def test_table_aligns_columns() -> None:
    assert table(["A", "LONG"], [[1, "x"], ["wide", ""]]) == (
        "A     LONG\n----  ----\n1     x\nwide"
    )


def test_models_list_and_versions_print_tables(
    settings: Settings,
    clickhouse_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with running_pipeline(settings, clickhouse_client) as pipeline:
        monkeypatch.setenv("TRACKLOG_QUERY_ADDR", pipeline.address)
        with RegistryClient(pipeline.address, timeout=30) as client:
            client.register_model("runs:/abc/model", "fraud")
            client.register_model("s3://bucket/fraud/2", "fraud")
            client.transition_model_version_stage("fraud", 2, "Production")
            client.set_registered_model_alias("fraud", "champion", 2)
            client.create_registered_model("churn")
        capsys.readouterr()

        assert main(["models", "list"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split() == [
            "NAME",
            "LATEST",
            "VERSION",
            "ALIASES",
            "LAST",
            "UPDATED",
            "(UTC)",
        ]
        assert lines[2].split()[:3] == ["churn", "-", "-"]
        assert lines[3].split()[:3] == ["fraud", "2", "champion->v2"]

        assert main(["models", "versions", "fraud"]) == 0
        rows = [line.split() for line in capsys.readouterr().out.splitlines()]
        assert rows[0] == ["VERSION", "STAGE", "STATUS", "ALIASES", "RUN", "ID", "SOURCE"]
        assert rows[2] == ["1", "None", "READY", "-", "abc", "runs:/abc/model"]
        assert rows[3] == ["2", "Production", "READY", "champion", "-", "s3://bucket/fraud/2"]

        assert main(["models", "versions", "nope"]) == 4  # NOT_FOUND
        assert "registered model 'nope' not found" in capsys.readouterr().err
