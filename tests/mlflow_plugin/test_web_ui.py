"""MLflow's web UI over Tracklog, in a real browser (Debian's chromium, driven by Playwright).

Runs are logged with Tracklog's own SDK (one of them with a 100,000-point metric) and two
versions of a model are registered with MLflow's client over the tracklog:// URI; the UI
that one `mlflow server` per module serves over that store must show them: the
experiments list, the runs table, the long run's page (overview and chart), two runs
compared, the models list and the model's page. Screenshots go to the module's temporary
directory (or ``TRACKLOG_SCREENSHOTS`` when set, for CI to keep).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.parse
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from tests.conftest import Backends
from tests.e2e.pipeline import wait_until
from tests.mlflow_plugin.servers import mlflow_server, module_pipeline
from tracklog import Session
from tracklog.contract.settings import Settings
from tracklog.mlflow import backend

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
MODEL = "ui-classifier"
BULK_INTERVAL = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"


@dataclass(frozen=True, slots=True)
class Served:
    """The module's `mlflow server` over one Tracklog pipeline, and what was logged."""

    url: str
    log: Path
    experiment_id: str
    long_run: str
    short_run: str


@pytest.fixture(scope="module")
def served(
    backends: Backends,
    tmp_root: Path,
    clickhouse_client: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    """One pipeline, its runs and model, and `mlflow server` over it, for every test here
    (the conftest's pipeline fixtures are per test; this builds the same once)."""
    folder = tmp_path_factory.mktemp("web-ui")
    with module_pipeline(backends, tmp_root, clickhouse_client, folder) as (
        pipeline,
        settings,
        uri,
    ):
        long_run, short_run = _log_natively(settings)
        wait_until(
            lambda: len(pipeline.history(long_run, "curve")) == LONG,
            timeout=300,
            what=f"{LONG} points of 'curve' projected",
        )
        _register(uri, long_run, short_run)
        with mlflow_server(uri, folder, folder / "spool", workers=1) as url:
            experiment = MlflowClient(url).get_experiment_by_name("ui-native")
            assert experiment is not None
            yield Served(
                url, folder / "mlflow-server.log", experiment.experiment_id, long_run, short_run
            )


@pytest.fixture(scope="module")
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
def page(browser: Any) -> Iterator[Any]:
    opened = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("TRACKLOG_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _log_natively(settings: Settings) -> tuple[str, str]:
    """Two runs through Tracklog's SDK (no MLflow involved); the long one first."""
    session = Session(settings.kafka)
    try:
        session.set_experiment("ui-native")
        run_ids = []
        for name, lr in (("native-long", "0.1"), ("native-short", "0.01")):
            with session.start_run(run_name=name) as run:
                run_ids.append(run.info.run_id)
                session.log_param("lr", lr)
                session.log_param("optimizer", "adam")
                steps = LONG if name == "native-long" else 50
                for step in range(steps):
                    session.log_metric("curve", 1.0 / (step + 1), step=step)
                session.log_metric("accuracy", 0.875 if name == "native-long" else 0.5)
        assert session.flush(120)
    finally:
        session.close()
    return run_ids[0], run_ids[1]


def _register(uri: str, first_run: str, second_run: str) -> None:
    """MODEL version 1 from the first run (in Production), 2 from the second (champion)."""
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        client.create_registered_model(MODEL)
        for run_id in (first_run, second_run):
            client.create_model_version(MODEL, f"runs:/{run_id}/model", run_id=run_id)
        with warnings.catch_warnings():  # stages are deprecated, and still on the page
            warnings.simplefilter("ignore", FutureWarning)
            client.transition_model_version_stage(MODEL, "1", "Production")
        client.set_registered_model_alias(MODEL, "champion", "2")
    finally:
        backend.close_all()


def _open(page: Any, url: str, *texts: str, shots: Path) -> None:
    """Go to `url` and wait until each text is shown (a screenshot and the page's text
    saved as failed.png / .txt when one is not)."""
    page.goto(url)
    for text in texts:
        _shown(page, page.get_by_text(text, exact=False).first, shots)


def _shown(page: Any, locator: Any, shots: Path) -> Any:
    """`locator` once it is visible (failed.png / .txt saved when it is not)."""
    try:
        locator.wait_for(timeout=WAIT_MS)
    except Exception:
        page.screenshot(path=shots / "failed.png")
        (shots / "failed.txt").write_text(page.inner_text("body"))
        raise
    return locator


def _row(page: Any, key: str, shots: Path) -> list[str]:
    """The words of the table row whose first cell reads `key`."""
    exact = page.get_by_text(key, exact=True)
    row = _shown(page, page.get_by_role("row").filter(has=exact).first, shots)
    row.scroll_into_view_if_needed()  # for the screenshot
    return str(row.inner_text()).split()


def _requests(log: Path, path: str) -> list[str]:
    """The server's access-log lines for requests to `path`."""
    return [line for line in log.read_text().splitlines() if f"GET {path}?" in line]


def test_the_web_ui_lists_experiments_and_runs_tracklogs_sdk_logged(
    served: Served, page: Any, shots: Path
) -> None:
    client = MlflowClient(served.url)
    assert len(client.get_metric_history(served.long_run, "curve")) == LONG

    _open(page, f"{served.url}/#/experiments", "ui-native", shots=shots)
    page.screenshot(path=shots / "experiments.png")
    _open(
        page,
        f"{served.url}/#/experiments/{served.experiment_id}/runs",
        "native-long",
        "native-short",
        shots=shots,
    )
    page.screenshot(path=shots / "runs-table.png")
    for name in ("experiments", "runs-table"):
        assert (shots / f"{name}.png").stat().st_size > 10_000, name


def test_the_run_page_shows_values_and_charts_the_long_metric_from_samples(
    served: Served, page: Any, shots: Path
) -> None:
    run_page = f"{served.url}/#/experiments/{served.experiment_id}/runs/{served.long_run}"
    _open(page, run_page, "native-long", "Parameters", "Metrics", shots=shots)
    assert _row(page, "lr", shots) == ["lr", "0.1"]
    assert _row(page, "optimizer", shots) == ["optimizer", "adam"]
    assert _row(page, "accuracy", shots) == ["accuracy", "0.875"]
    assert _row(page, "curve", shots) == ["curve", "0.00001"]  # 1 / 100,000, the last step
    page.screenshot(path=shots / "run-overview.png")

    samples: list[Any] = []
    page.on("response", lambda reply: samples.append(reply) if BULK_INTERVAL in reply.url else None)
    with page.expect_response(
        lambda reply: BULK_INTERVAL in reply.url and "metric_key=curve" in reply.url,
        timeout=WAIT_MS,
    ) as caught:
        page.goto(f"{run_page}/model-metrics")
    reply = caught.value
    assert reply.status == 200, reply.text()
    asked = urllib.parse.parse_qs(urllib.parse.urlparse(reply.url).query)
    assert asked["run_ids"] == [served.long_run]
    points = reply.json()["metrics"]
    steps = [point["step"] for point in points]
    # ClickHouse's LTTB sample: at most what the chart asked for, the curve's ends kept
    assert 3 <= len(points) <= int(asked["max_results"][0]) < LONG
    assert steps[0] == 0 and steps[-1] == LONG - 1 and steps == sorted(steps)
    assert points[0]["value"] == 1.0 and points[-1]["value"] == 1.0 / LONG
    # each sample carries its point's own time (the charts' wall-time axes use it)
    stamps = [int(point["timestamp"]) for point in points]
    assert stamps == sorted(stamps) and stamps[0] > 1_700_000_000_000

    cards = page.get_by_test_id("experiment-view-compare-runs-card")
    chart = cards.filter(has=page.get_by_text("curve", exact=True))
    line = _shown(page, chart.locator("svg path.js-line").first, shots)
    assert str(line.get_attribute("d")).startswith("M") and "L" in str(line.get_attribute("d"))
    assert "native-long (curve)" in chart.inner_text()
    page.screenshot(path=shots / "run-metrics.png")
    assert samples and all(sample.status == 200 for sample in samples), [
        (sample.url, sample.status) for sample in samples
    ]
    logged = wait_until(lambda: _requests(served.log, BULK_INTERVAL), timeout=30, what="log")
    assert all(line.endswith("200 OK") for line in logged), logged


def test_two_runs_compared_show_their_names_and_differing_param(
    served: Served, page: Any, shots: Path
) -> None:
    runs = urllib.parse.quote(json.dumps([served.long_run, served.short_run]))
    experiments = urllib.parse.quote(json.dumps([served.experiment_id]))
    _open(
        page,
        f"{served.url}/#/compare-runs?runs={runs}&experiments={experiments}",
        "Comparing 2 Runs",
        "native-long",
        "native-short",
        shots=shots,
    )
    assert _row(page, "lr", shots) == ["lr", "0.1", "0.01"]
    assert _row(page, "optimizer", shots) == ["optimizer", "adam", "adam"]
    marked = [str(text).split()[0] for text in page.locator("tr.diff-row").all_inner_texts()]
    assert "lr" in marked and "optimizer" not in marked  # the page highlights differences
    page.screenshot(path=shots / "compare-runs.png")


def test_the_registry_pages_show_the_models_versions_stage_and_alias(
    served: Served, page: Any, shots: Path
) -> None:
    _open(page, f"{served.url}/#/models", MODEL, shots=shots)
    promotion = _shown(page, page.get_by_role("dialog"), shots)  # the new registry UI's
    page.keyboard.press("Escape")
    promotion.wait_for(state="hidden", timeout=WAIT_MS)
    listed = _row(page, MODEL, shots)
    assert listed[:3] == [MODEL, "Version", "2"] and "champion" in listed
    page.screenshot(path=shots / "models.png", animations="disabled")  # the modal faded

    model_page = f"{served.url}/#/models/{MODEL}"
    _open(page, model_page, "Version 2", "Version 1", shots=shots)
    assert "@ champion" in " ".join(_row(page, "Version 2", shots))
    assert "champion" not in _row(page, "Version 1", shots)
    page.screenshot(path=shots / "model.png")

    # stages show in the registry's previous UI, chosen by this setting of MLflow's UI
    page.evaluate(
        "localStorage.setItem('_mlflow_user_setting_dismiss_next_model_registry_ui', 'true')"
    )
    page.reload()
    _shown(page, page.get_by_text("Stage", exact=True).first, shots)
    assert "Production" in _row(page, "Version 1", shots)
    assert "Production" not in _row(page, "Version 2", shots)
    page.screenshot(path=shots / "model-stages.png")


def test_an_experiments_genai_pages_render_empty_not_as_errors(
    served: Served, page: Any, shots: Path
) -> None:
    """MLflow 3.17's UI opens an experiment on its GenAI overview, and has tabs for traces,
    evaluation datasets and judges: Tracklog has none of those, and says so as an empty
    page, not as "Failed to load chart data" or "Internal server error"."""
    experiment = f"{served.url}/#/experiments/{served.experiment_id}"
    _open(page, experiment, "No data available for the selected time range", shots=shots)
    assert "/overview" in page.url
    page.screenshot(path=shots / "experiment-overview.png")
    for tab, shown in (("datasets", "Create dataset"), ("judges", "Judges")):
        with page.expect_response(
            lambda reply, tab=tab: (
                ("/datasets/search" if tab == "datasets" else "/scorers/list") in reply.url
            ),
            timeout=WAIT_MS,
        ) as caught:
            _open(page, f"{experiment}/{tab}", shown, shots=shots)
        assert caught.value.status == 200, caught.value.text()
        page.screenshot(path=shots / f"experiment-{tab}.png")
    body = page.inner_text("body")
    assert "Internal server error" not in body and "Failed to load" not in body
