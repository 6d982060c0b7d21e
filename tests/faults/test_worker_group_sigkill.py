"""Three ingest workers in one group over 8 partitions; one is SIGKILLed mid-stream (issue 13).

The three `tracklog ingest` processes share one metric store: a chDB data path behind a
ClickHouse HTTP endpoint (tests/faults/chdb_server.py), as workers share a ClickHouse server
in production (chDB itself lets one process own a data path). Events keep arriving while the
workers consume; once every worker has made progress, one of them is SIGKILLed a random time
later (between an insert and its offset commit, or anywhere else), and the stream goes on
for a few more waves. Its partitions go to the
two survivors, which read the per-partition high-water marks it left in ClickHouse and carry
on. Afterwards every point produced is stored exactly once: as many rows as points, as many
distinct (run, key, step, timestamp) as points, and the values add up.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.faults.chdb_server import ChdbServer
from tests.faults.test_worker_sigkill import applied_records, wait_for
from tests.faults.topic_ends import topic_records
from tests.faults.worker_group import (
    PointPlan,
    expected_value_sum,
    produce,
    start_worker,
    stop_worker,
    stored_points,
    stored_rows,
    worker_env,
)
from tracklog.contract.settings import Settings
from tracklog.contract.topics import ensure_topics
from tracklog.deploy.processes import free_port

pytestmark = pytest.mark.integration

WORKERS = 3
PARTITIONS = 8
SESSION_TIMEOUT_MS = 1000
WAVE = PointPlan(runs=24, events=48, points_per_event=400)  # 19,200 points a wave
WAVES_AFTER_KILL = 4  # the stream goes on after the kill
MAX_WAVES = 200
KILL_WITHIN_SECONDS = (0.0, 1.5)  # after every worker has made progress


class Waves(threading.Thread):
    """Produces waves of points (each continuing the runs' steps), one every 0.3 s, until
    `stop` is set."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="waves", daemon=True)
        self.settings = settings
        self.plan = PointPlan(WAVE.runs, 0, WAVE.points_per_event)  # what was produced
        self.waves = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set() and self.waves < MAX_WAVES:
                wave = self.plan.following(WAVE.events)
                produce(self.settings, wave)
                self.plan = replace(self.plan, events=self.plan.events + wave.events)
                self.waves += 1
                time.sleep(0.3)
        except BaseException as error:  # reported by the test
            self.error = error


def progressed(dsn: str, topic: str, logs: list[Path]) -> bool:
    """Every worker has applied records (its log says so) and the group moved."""
    return applied_records(dsn, topic) > 0 and all(
        "assigned [(" in log.read_text(errors="replace") for log in logs
    )


def test_one_of_three_workers_killed_mid_stream_loses_and_doubles_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    seed = int(os.environ.get("TRACKLOG_FAULT_SEED", random.randrange(1 << 32)))
    rng = random.Random(seed)
    print(f"\n[worker group sigkill] seed {seed} (TRACKLOG_FAULT_SEED={seed} repeats it)")
    kafka = replace(
        settings.kafka, events_topic=f"{settings.kafka.events_topic}.group", partitions=PARTITIONS
    )
    ensure_topics(kafka)
    settings = replace(settings, kafka=kafka)
    topic, dsn, database = kafka.events_topic, settings.postgres_dsn, settings.clickhouse_database
    store = ChdbServer(tmp_path / "chdb", free_port(), tmp_path / "chdb-server.log").start()
    env = worker_env(settings, store.dsn, SESSION_TIMEOUT_MS)
    logs = [tmp_path / f"worker-{n}.log" for n in range(WORKERS)]
    workers = [start_worker(env, log) for log in logs]
    waves = Waves(settings)
    started = time.monotonic()
    try:
        waves.start()
        wait_for(lambda: stored_rows(store.dsn, database) > 0, 120, "the first stored points")
        wait_for(lambda: progressed(dsn, topic, logs), 60, "every worker's assignment")
        time.sleep(rng.uniform(*KILL_WITHIN_SECONDS))
        victim = rng.randrange(WORKERS)
        stored_at_kill = stored_rows(store.dsn, database)
        waves_at_kill = waves.waves
        workers[victim].send_signal(signal.SIGKILL)
        workers[victim].wait()
        wait_for(lambda: waves.waves >= waves_at_kill + WAVES_AFTER_KILL, 120, "later waves")
        waves.stop.set()
        waves.join(60)
        assert waves.error is None, waves.error
        assert all(w.poll() is None for n, w in enumerate(workers) if n != victim), "a worker died"
        records = topic_records(settings)
        drain = wait_for(lambda: applied_records(dsn, topic) >= records, 180, "the drain")
        figures = stored_points(store.dsn, database)
    finally:
        for worker in workers:
            stop_worker(worker)
        store.stop()
    plan = waves.plan
    print(
        f"[worker group sigkill] {WORKERS} workers, {PARTITIONS} partitions; worker {victim} "
        f"killed after wave {waves_at_kill} of {waves.waves} with {stored_at_kill:,} points "
        f"stored; {plan.points:,} points in {records} events; "
        f"rows {figures.rows:,}, distinct points {figures.distinct:,}, lost "
        f"{plan.points - figures.distinct:,}, duplicated {figures.rows - figures.distinct:,}; "
        f"drain after the last wave {drain:.1f} s; whole test {time.monotonic() - started:.1f} s"
    )
    assert records == plan.events
    assert 0 < waves_at_kill < MAX_WAVES - WAVES_AFTER_KILL, "not killed mid-stream"
    assert (figures.rows, figures.distinct) == (plan.points, plan.points)
    assert figures.value_sum == expected_value_sum(plan)
