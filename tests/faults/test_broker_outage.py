"""The broker SIGKILLed for 30 s while a run logs 1,000,000 points, then restarted.

Tansu runs on durable ``s3://`` storage (tests/faults/conftest.py), so what it
acknowledged survives the kill, as with a real Kafka. The SDK writes every event
to its disk spool (TRACKLOG_SPOOL_DIR) and re-sends from there; re-sent copies
are collapsed by the worker's event-id de-duplication. Expected: 0 lost,
0 duplicated in ClickHouse, and no logging call waiting on the broker: none blocked
longer than 250 ms, far above a loaded machine's scheduling noise and far below the
shortest network timeout (5 s). The latency figures are printed (tests/faults/
call_latency.py says how "blocked" is told apart from the scheduler and the garbage
collector); the sub-millisecond goal is measured by
tests/benchmarks/bench_outage_latency.py, not asserted here.

The worker runs in this process only after the logging loop (in production it
is another machine): the latencies measured are the SDK's own.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from tests.faults.call_latency import latency_sensitive, log_paced, report
from tests.faults.topic_ends import topic_records
from tracklog.contract.settings import Settings
from tracklog.deploy.embedded.broker import TansuBroker
from tracklog.ingest.worker import Worker
from tracklog.session import Session

pytestmark = pytest.mark.integration

KEYS = ("loss", "accuracy", "lr", "grad_norm")
STEPS = 250_000  # x 4 keys = 1,000,000 points
LOG_SECONDS = 45.0  # the logging loop is paced over this long
KILL_AT = 5.0  # seconds into the loop
OUTAGE_SECONDS = 30.0
MAX_BLOCKED_NS = 250_000_000  # a call waiting on the broker would wait 5 s or more


def value_of(key_index: int, step: int) -> float:
    return step + key_index / 8  # exact in binary: compared as is in ClickHouse


class Outage(threading.Thread):
    """Kills the broker at ``KILL_AT`` after `go` and starts it again ``OUTAGE_SECONDS`` later."""

    def __init__(self, broker: TansuBroker) -> None:
        super().__init__(name="broker-outage", daemon=True)
        self.broker = broker
        self.go = threading.Event()
        self.killed_at = self.restarted_at = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.go.wait()
            time.sleep(KILL_AT)
            self.broker.kill()
            self.killed_at = time.monotonic()
            time.sleep(OUTAGE_SECONDS)
            self.broker.start()
            self.restarted_at = time.monotonic()
        except BaseException as error:  # reported by the test
            self.error = error


def clickhouse_figures(client: Any, database: str, run_id: str) -> tuple[int, int, int]:
    """(rows, distinct expected (key, step) present, rows with a wrong value) of the run."""
    keys = "[" + ",".join(f"'{k}'" for k in KEYS) + "]"
    rows, distinct, wrong = client.query(
        f"SELECT count(), uniqExactIf((key, step), has({keys}, key) AND step < {STEPS}), "
        f"countIf(value != step + (indexOf({keys}, key) - 1) / 8) "
        f"FROM {database}.metric_points WHERE run_id = '{run_id}'"
    ).result_rows[0]
    return int(rows), int(distinct), int(wrong)


def run_status(dsn: str, run_id: str) -> str | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,)).fetchone()
    return None if row is None else str(row[0])


def test_broker_killed_for_30s_loses_and_doubles_nothing(
    durable_broker: TansuBroker,
    durable_settings: Settings,
    clickhouse_client: Any,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACKLOG_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("TRACKLOG_SPOOL_MAX_BYTES", str(512 << 20))
    monkeypatch.setenv("TRACKLOG_SPOOL_ON_FULL", "block")
    settings = durable_settings
    session = Session(settings.kafka, query_addr="")
    run_id = session.start_run(run_name="outage").info.run_id
    assert session.flush(30), "the broker did not acknowledge the run's start"

    outage = Outage(durable_broker)
    outage.start()
    with latency_sensitive() as pauses:
        outage.go.set()
        measured = log_paced(session, KEYS, STEPS, LOG_SECONDS, value_of, pauses)
    logged_at = time.monotonic()
    outage.join(OUTAGE_SECONDS + KILL_AT + 60)
    assert outage.error is None, f"the broker could not be restarted: {outage.error!r}"
    assert outage.killed_at and outage.restarted_at
    assert outage.killed_at < logged_at, "the logging loop ended before the broker was killed"

    session.end_run()
    flushed = session.flush(180)
    acked_at = time.monotonic()
    unsent = session.close(30)
    events_in_topic = topic_records(settings)
    assert flushed, "the SDK could not get everything acknowledged after the restart"
    assert unsent.events == 0 and unsent.points == 0, unsent

    worker = Worker(settings, clickhouse_client)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            rows, distinct, wrong = clickhouse_figures(
                clickhouse_client, settings.clickhouse_database, run_id
            )
            if distinct == STEPS * len(KEYS) and worker.drained():
                break
            time.sleep(0.5)
        projected_at = time.monotonic()
        status = run_status(settings.postgres_dsn, run_id)
    finally:
        stop.set()
        thread.join(60)
    rows, distinct, wrong = clickhouse_figures(
        clickhouse_client, settings.clickhouse_database, run_id
    )

    sent = STEPS * len(KEYS)
    lost, duplicated = sent - distinct, rows - distinct
    print(
        f"\n[broker outage] points sent {sent} in {STEPS} calls; events in the topic "
        f"{events_in_topic}, applied {worker.stats.events_consumed}, re-sent copies dropped "
        f"{worker.stats.duplicates}; points projected {distinct}, lost {lost}, "
        f"duplicated {duplicated}, wrong values {wrong}; outage "
        f"{outage.restarted_at - outage.killed_at:.1f} s; caught up (all acknowledged) "
        f"{acked_at - outage.restarted_at:.1f} s and projected {projected_at - acked_at:.1f} s "
        f"after that"
    )
    print(report(measured, LOG_SECONDS))
    blocked = measured.longest_blocked
    assert (lost, duplicated, wrong) == (0, 0, 0)
    assert status == "FINISHED"
    assert blocked <= MAX_BLOCKED_NS, f"a logging call was blocked {blocked / 1e3:.0f} us"
