"""`tracklog replay` refuses to run without an archive or without --yes, before touching
anything; the progress bar it draws. (The full replay: tests/faults/test_rebuild.py.)"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tracklog.deploy.cli.main import main
from tracklog.deploy.cli.progress import ProgressBar


@pytest.fixture(autouse=True)
def unreachable_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACKLOG_ARCHIVE_ROOT", raising=False)
    monkeypatch.setenv("TRACKLOG_POSTGRES_DSN", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("TRACKLOG_CLICKHOUSE_DSN", "http://127.0.0.1:1")

    def no_connection(dsn: str) -> None:
        raise AssertionError("replay connected to ClickHouse before it was allowed to")

    monkeypatch.setattr("tracklog.contract.read_model.clickhouse_client.connect", no_connection)


def test_replay_without_an_archive_says_how_to_name_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["replay", "--yes"]) == 2
    assert "TRACKLOG_ARCHIVE_ROOT" in capsys.readouterr().err


def test_replay_of_a_directory_without_stack_data_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["replay", "--yes", "--data-dir", str(tmp_path)]) == 2
    assert "holds no `tracklog up` data" in capsys.readouterr().err
    assert main(["replay", "--data-dir", str(tmp_path)]) == 2  # still wants --yes


def test_replay_without_yes_explains_that_it_wipes_the_read_models(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLOG_ARCHIVE_ROOT", "/nonexistent/archive")
    assert main(["replay"]) == 2
    err = capsys.readouterr().err
    assert "EMPTIES both read models" in err and "Stop the live ingest worker" in err
    assert main(["replay", "--archive", "/elsewhere"]) == 2  # --archive is no confirmation


def test_the_progress_bar_shows_counts_rate_and_eta() -> None:
    stream = io.StringIO()
    bar = ProgressBar(1_000, stream=stream)
    assert bar.render(250, 50_000, 10.0) == (
        "[#######.......................]  25% 250/1,000 records  5,000 points/s  ETA 0:00:30"
    )
    assert bar.render(0, 0, 0.0).endswith("0 points/s  ETA -")
    bar.update(1_000, 10, force=True)
    bar.close(1_000, 10)
    assert stream.getvalue().startswith("\r[##############################] 100% 1,000/1,000")
    assert stream.getvalue().endswith("ETA 0:00:00\n")
    assert ProgressBar(0, stream=stream).render(0, 0, 1.0).startswith("[###")  # nothing to do
