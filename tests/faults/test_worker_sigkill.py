"""The ingest worker SIGKILLed at 20 random moments while the SDK streams, then restarted.

`tracklog ingest` runs as a child process with its own chDB path (chDB allows one
process per data path; this process holds the session's). Each incarnation is
killed a random time after it has made progress (its Postgres tracking rows
moved). The SDK streams metrics, params and tags of several runs all along.
Afterwards the last worker drains the topic, is stopped, and both read models
must be exact: every point once in ClickHouse, params, tags and runs as sent.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.faults.topic_ends import topic_records
from tests.faults.worker_group import start_worker, worker_env
from tracklog.contract.settings import Settings
from tracklog.entities import Metric, Param, RunTag
from tracklog.session import Session

pytestmark = pytest.mark.integration

KILLS = 20
RUNS = 4
KEYS = ("loss", "accuracy", "lr")
STEPS_PER_SECOND = 800  # per run: 4 runs x 3 keys x 800 = 9,600 points/s
SESSION_TIMEOUT_MS = 1000  # a dead member holds up the rebalance about this long (Tansu)
KILL_WITHIN_SECONDS = (0.0, 0.8)  # after an incarnation's first progress


def value_of(run: int, key: int, step: int) -> float:
    return step + key / 8 + run / 64  # exact in binary


class Stream(threading.Thread):
    """Logs metrics of RUNS runs (plus a param every 500 steps and a changing tag)
    until `stop`, remembering what it logged."""

    def __init__(self, session: Session) -> None:
        super().__init__(name="sdk-stream", daemon=True)
        self.session = session
        self.stop = threading.Event()
        self.run_ids: list[str] = []
        self.steps = 0  # steps logged per run
        self.params: dict[str, dict[str, str]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._stream()
        except BaseException as error:  # reported by the test
            self.error = error

    def _stream(self) -> None:
        for r in range(RUNS):
            run_id = self.session.start_run(run_name=f"killed-{r}", nested=r > 0).info.run_id
            self.run_ids.append(run_id)
            self.params[run_id], self.tags[run_id] = {}, {}
        started = time.monotonic()
        step = 0
        while not self.stop.is_set():
            ahead = started + step / STEPS_PER_SECOND - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            for r, run_id in enumerate(self.run_ids):
                metrics = [
                    Metric(k, value_of(r, i, step), 1_000 + step, step) for i, k in enumerate(KEYS)
                ]
                params = [Param(f"p{step // 500}", str(step))] if step % 500 == 0 else []
                tags = [RunTag("phase", f"s{step // 250}")] if step % 250 == 0 else []
                self.session.log_batch(run_id, metrics, params, tags)
                self.params[run_id].update((p.key, str(p.value)) for p in params)
                self.tags[run_id].update((t.key, str(t.value)) for t in tags)
            step += 1
            self.steps = step
        for run_id in reversed(self.run_ids):
            self.session.end_run_by_id(run_id)


def applied_records(dsn: str, topic: str) -> int:
    """Records the worker's Postgres tracking rows cover on the events topic."""
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('projection_offsets')").fetchone() == (None,):
            return 0
        row = conn.execute(
            "SELECT coalesce(sum(last_offset + 1), 0) FROM projection_offsets "
            "WHERE projection = 'postgres' AND (topic = %s OR topic LIKE %s)",
            (topic, f"{topic}@%"),
        ).fetchone()
    return int(row[0]) if row else 0


def wait_for(probe: Any, timeout: float, what: str) -> float:
    """Seconds until probe() is truthy; fails after timeout."""
    started = time.monotonic()
    while not probe():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


CLICKHOUSE_FIGURES = """
import json, sys
from tracklog.contract.read_model.clickhouse_client import connect
rows = connect(sys.argv[1]).query(
    "SELECT run_id, count(), uniqExact(key, step), sum(value), max(step) FROM "
    + sys.argv[2] + ".metric_points GROUP BY run_id"
).result_rows
print(json.dumps({r[0]: [int(r[1]), int(r[2]), float(r[3]), int(r[4])] for r in rows}))
"""


def clickhouse_figures(chdb_path: Path, database: str) -> dict[str, list[Any]]:
    """Per run: [rows, distinct (key, step), sum of values, max step], read by a child
    process (the worker's chDB path cannot be opened by this process)."""
    out = subprocess.run(
        [sys.executable, "-c", CLICKHOUSE_FIGURES, f"chdb://{chdb_path}", database],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures: dict[str, list[Any]] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def postgres_model(dsn: str, run_ids: list[str]) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:

        def by_run(table: str) -> dict[str, dict[str, str]]:
            found: dict[str, dict[str, str]] = {r: {} for r in run_ids}
            for run_id, key, value in conn.execute(f"SELECT run_id, key, value FROM {table}"):
                found.setdefault(run_id, {})[key] = value
            return found

        statuses: dict[str, str] = dict(conn.execute("SELECT run_id, status FROM runs").fetchall())
        latest = {
            (run_id, key): step
            for run_id, key, step in conn.execute("SELECT run_id, key, step FROM latest_metrics")
        }
        return {
            "runs": statuses,
            "params": by_run("params"),
            "tags": by_run("tags"),
            "latest": latest,
        }


def test_worker_killed_20_times_loses_and_doubles_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = int(os.environ.get("TRACKLOG_FAULT_SEED", random.randrange(1 << 32)))
    rng = random.Random(seed)
    print(f"\n[worker sigkill] seed {seed} (TRACKLOG_FAULT_SEED={seed} repeats it)")
    monkeypatch.setenv("TRACKLOG_SPOOL_DIR", str(tmp_path / "spool"))
    chdb_path, log = tmp_path / "chdb", tmp_path / "worker.log"
    env = worker_env(settings, f"chdb://{chdb_path}", SESSION_TIMEOUT_MS)
    topic, dsn = settings.kafka.events_topic, settings.postgres_dsn

    session = Session(settings.kafka, query_addr="")
    stream = Stream(session)
    started = time.monotonic()
    stream.start()
    first_progress: list[float] = []
    worker = start_worker(env, log)
    try:
        for _ in range(KILLS):
            before = applied_records(dsn, topic)
            first_progress.append(
                wait_for(lambda b=before: applied_records(dsn, topic) > b, 60, "worker progress")
            )
            time.sleep(rng.uniform(*KILL_WITHIN_SECONDS))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            assert stream.error is None, stream.error
            worker = start_worker(env, log)
        stream.stop.set()
        stream.join(30)
        assert stream.error is None, stream.error
        assert session.flush(60), "the SDK could not get everything acknowledged"
        unsent = session.close(30)
        assert (unsent.events, unsent.points) == (0, 0), unsent
        sent_records = topic_records(settings)
        drain = wait_for(lambda: applied_records(dsn, topic) >= sent_records, 120, "the drain")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    elapsed = time.monotonic() - started

    figures = clickhouse_figures(chdb_path, settings.clickhouse_database)
    model = postgres_model(dsn, stream.run_ids)
    steps = stream.steps
    sent = RUNS * steps * len(KEYS)
    rows = sum(f[0] for f in figures.values())
    projected = sum(f[1] for f in figures.values())
    print(
        f"[worker sigkill] {KILLS} kills; events in the topic {sent_records}; points sent {sent} "
        f"({RUNS} runs x {steps} steps x {len(KEYS)} keys), projected {projected}, "
        f"lost {sent - projected}, duplicated {rows - projected}; restart to first progress "
        f"min {min(first_progress):.2f} s / median {sorted(first_progress)[KILLS // 2]:.2f} s / "
        f"max {max(first_progress):.2f} s (session timeout {SESSION_TIMEOUT_MS} ms); "
        f"final drain {drain:.1f} s; streaming + kills + drain {elapsed:.1f} s"
    )
    assert (rows, projected) == (sent, sent)
    for r, run_id in enumerate(stream.run_ids):
        expected_sum = sum(value_of(r, k, s) for s in range(steps) for k in range(len(KEYS)))
        assert figures[run_id] == [steps * len(KEYS), steps * len(KEYS), expected_sum, steps - 1]
        assert model["runs"][run_id] == "FINISHED"
        assert model["params"][run_id] == stream.params[run_id]
        user_tags = {k: v for k, v in model["tags"][run_id].items() if not k.startswith("mlflow.")}
        assert user_tags == stream.tags[run_id]
        for key in KEYS:
            assert model["latest"][(run_id, key)] == steps - 1
    assert len(model["runs"]) == RUNS
