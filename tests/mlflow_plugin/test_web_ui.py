"""MLflow's web UI over Tracklog, in a real browser (Debian's chromium, driven by Playwright).

Runs are logged with Tracklog's own SDK (one of them with a 100,000-point metric), and
the UI that `mlflow server`
serves over the tracklog:// store must show them: the experiments list and the runs
table (the run's chart, comparison and registry pages are not asserted yet). Screenshots
go to the test's directory (or ``TRACKLOG_SCREENSHOTS`` when set, for CI to keep).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from tests.e2e.pipeline import Pipeline
from tests.mlflow_plugin.servers import mlflow_server
from tracklog import Session
from tracklog.settings import Settings

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# as the machine's notes say: without these, chromium keeps dialling hosts it cannot reach
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LONG = 100_000
WAIT_MS = 90_000


@pytest.fixture
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"no chromium at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TRACKLOG_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _log_natively(settings: Settings) -> tuple[str, list[str]]:
    """Two runs through Tracklog's SDK (no MLflow involved); the long one first."""
    session = Session(settings.kafka)
    try:
        session.set_experiment("ui-native")
        run_ids = []
        for name, lr in (("native-long", "0.1"), ("native-short", "0.01")):
            with session.start_run(run_name=name) as run:
                run_ids.append(run.info.run_id)
                session.log_param("lr", lr)
                steps = LONG if name == "native-long" else 50
                for step in range(steps):
                    session.log_metric("curve", 1.0 / (step + 1), step=step)
        assert session.flush(120)
    finally:
        session.close()
    return run_ids[0], run_ids


def _open(page: Any, url: str, *texts: str, shots: Path) -> None:
    """Go to `url` and wait until each text is shown (a screenshot and the page's text
    saved as failed-*.png / .txt when one is not)."""
    page.goto(url)
    for text in texts:
        try:
            page.get_by_text(text, exact=False).first.wait_for(timeout=WAIT_MS)
        except Exception:
            page.screenshot(path=shots / "failed.png")
            (shots / "failed.txt").write_text(page.inner_text("body"))
            raise


def test_the_web_ui_lists_experiments_and_runs_tracklogs_sdk_logged(
    tracking_uri: str,
    pipeline: Pipeline,
    settings: Settings,
    browser: Any,
    shots: Path,
    tmp_path: Path,
    spool_dir: Path,
) -> None:
    long_run, _ = _log_natively(settings)
    with mlflow_server(tracking_uri, tmp_path, spool_dir, workers=1) as url:
        client = MlflowClient(url)
        experiment_id = client.get_experiment_by_name("ui-native").experiment_id  # type: ignore[union-attr]
        assert len(client.get_metric_history(long_run, "curve")) == LONG

        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        _open(page, f"{url}/#/experiments", "ui-native", shots=shots)
        page.screenshot(path=shots / "experiments.png")

        _open(
            page,
            f"{url}/#/experiments/{experiment_id}/runs",
            "native-long",
            "native-short",
            shots=shots,
        )
        page.screenshot(path=shots / "runs-table.png")
    for name in ("experiments", "runs-table"):
        assert (shots / f"{name}.png").stat().st_size > 10_000, name
