"""Several `tracklog ingest` processes in one consumer group over one shared metric store.

The store is one chDB data path behind a ClickHouse HTTP endpoint (tests/faults/chdb_server.py):
chDB lets one process own a data path, so worker processes reach it over HTTP, as they reach
one ClickHouse server in production. Used by test_worker_group_sigkill.py and
tests/benchmarks/bench_workers.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaProducer

from tracklog.contract.read_model.clickhouse_client import connect
from tracklog.contract.settings import Settings
from tracklog.v1 import events_pb2 as pb

KEYS = ("loss", "accuracy", "learning_rate", "grad_norm")
T0_MS = 1_700_000_000_000


@dataclass(frozen=True, slots=True)
class PointPlan:
    """`events` MetricsLogged events of `points_per_event` points, round-robin over `runs`
    runs (each event: consecutive steps of one run, every key per step), so every point's
    (run, key, step, timestamp) is distinct. `first_event` > 0 continues an earlier plan
    (same runs and event size) where it stopped."""

    runs: int
    events: int
    points_per_event: int
    first_event: int = 0

    def following(self, events: int) -> PointPlan:
        """The next `events` events after this plan's."""
        return PointPlan(self.runs, events, self.points_per_event, self.first_event + self.events)

    @property
    def points(self) -> int:
        return self.events * self.points_per_event

    def envelopes(self) -> Iterator[pb.Envelope]:
        steps_per_event = self.points_per_event // len(KEYS)
        if steps_per_event * len(KEYS) != self.points_per_event:
            raise ValueError(f"points_per_event must be a multiple of {len(KEYS)}")
        for i in range(self.first_event, self.first_event + self.events):
            run, first = i % self.runs, (i // self.runs) * steps_per_event
            e = pb.Envelope(
                event_id=uuid.uuid4().hex,
                aggregate_id=f"run{run:03d}",
                aggregate_type=pb.AGGREGATE_TYPE_RUN,
                sequence=i // self.runs + 1,
            )
            m = e.metrics_logged
            for step in range(first, first + steps_per_event):
                m.keys.extend(KEYS)
                m.steps.extend([step] * len(KEYS))
                m.timestamps_ms.extend([T0_MS + step] * len(KEYS))
                m.values.extend(step + k / 8 for k in range(len(KEYS)))
            yield e


def produce(settings: Settings, plan: PointPlan) -> int:
    """Send the plan's events (keyed by run, acks=all); return the number of records."""
    producer = KafkaProducer(
        **settings.kafka.client_options(), acks="all", linger_ms=5, max_request_size=4 << 20
    )
    sent = 0
    try:
        for e in plan.envelopes():
            producer.send(
                settings.kafka.events_topic,
                key=e.aggregate_id.encode(),
                value=e.SerializeToString(),
            )
            sent += 1
        producer.flush(timeout=120)
    finally:
        producer.close(timeout=10)
    return sent


def worker_env(settings: Settings, clickhouse_dsn: str, session_timeout_ms: int) -> dict[str, str]:
    return {
        **os.environ,
        "TRACKLOG_KAFKA_BOOTSTRAP": settings.kafka.bootstrap_servers,
        "TRACKLOG_EVENTS_TOPIC": settings.kafka.events_topic,
        "TRACKLOG_EVENTS_PARTITIONS": str(settings.kafka.partitions),
        "TRACKLOG_POSTGRES_DSN": settings.postgres_dsn,
        "TRACKLOG_CLICKHOUSE_DSN": clickhouse_dsn,
        "TRACKLOG_CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "TRACKLOG_CONSUMER_GROUP": settings.consumer_group,
        "TRACKLOG_KAFKA_SESSION_TIMEOUT_MS": str(session_timeout_ms),
        "TRACKLOG_KAFKA_HEARTBEAT_INTERVAL_MS": str(max(100, session_timeout_ms // 4)),
    }


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tracklog.deploy.cli.main", "ingest"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def stop_worker(worker: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    if worker.poll() is not None:
        return
    worker.terminate()
    try:
        worker.wait(timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


@dataclass(frozen=True, slots=True)
class StoredPoints:
    rows: int
    distinct: int  # distinct (run_id, key, step, timestamp_ms)
    value_sum: float


def stored_points(clickhouse_dsn: str, database: str) -> StoredPoints:
    client = connect(clickhouse_dsn)
    try:
        rows, distinct, value_sum = client.query(
            "SELECT count(), uniqExact(run_id, key, step, timestamp_ms), sum(value)"
            f" FROM {database}.metric_points"
        ).result_rows[0]
    finally:
        client.close()
    return StoredPoints(int(rows), int(distinct), float(value_sum))


def stored_rows(clickhouse_dsn: str, database: str) -> int:
    """count() of the points table; 0 while it does not exist yet."""
    client = connect(clickhouse_dsn)
    try:
        exists = client.command(f"EXISTS TABLE {database}.metric_points")
        if not int(exists):
            return 0
        return int(client.command(f"SELECT count() FROM {database}.metric_points"))
    finally:
        client.close()


def expected_value_sum(plan: PointPlan) -> float:
    steps_per_event = plan.points_per_event // len(KEYS)
    total = 0.0
    for i in range(plan.first_event, plan.first_event + plan.events):
        first = (i // plan.runs) * steps_per_event
        steps = range(first, first + steps_per_event)
        total += sum(s + k / 8 for s in steps for k in range(len(KEYS)))
    return total
