"""`tracklog demo` against a running pipeline."""

from __future__ import annotations

from typing import Any

import pytest

import tracklog
from tests.e2e.pipeline import running_pipeline
from tracklog.contract.settings import Settings
from tracklog.deploy.demo import run_demo

pytestmark = pytest.mark.integration


def test_demo_logs_a_model_and_reads_it_back(
    settings: Settings, clickhouse_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_pipeline(settings, clickhouse_client) as pipeline:
        address = pipeline.address
        try:
            assert run_demo(settings, address)
        finally:
            tracklog.configure()  # leave no session pointing at this test's topic
    out = capsys.readouterr().out
    assert "status=FINISHED" in out
    for key in ("train_loss", "val_accuracy", "weight_norm"):
        (line,) = [line for line in out.splitlines() if line.strip().startswith(key)]
        assert "at step 999, 1000 points in history" in line
    assert "alpha=0.0001" in out
