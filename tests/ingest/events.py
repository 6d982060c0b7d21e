"""Hand-built events, a producer and a worker thread for the ingest tests."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from google.protobuf.timestamp_pb2 import Timestamp
from kafka import KafkaProducer

from tracklog.contract.settings import Settings
from tracklog.ingest.worker import Worker
from tracklog.v1 import events_pb2 as pb

T = TypeVar("T")
T0_MS = 1_700_000_000_000


def _ts(ms: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMilliseconds(ms)
    return ts


def _envelope(aggregate_id: str, kind: pb.AggregateType.ValueType, seq: int) -> pb.Envelope:
    return pb.Envelope(
        event_id=uuid.uuid4().hex,
        aggregate_id=aggregate_id,
        aggregate_type=kind,
        sequence=seq,
        occurred_at=_ts(T0_MS + seq),
    )


def experiment_created(
    experiment_id: str, name: str, tags: dict[str, str] | None = None
) -> pb.Envelope:
    e = _envelope(experiment_id, pb.AGGREGATE_TYPE_EXPERIMENT, 1)
    e.experiment_created.name = name
    e.experiment_created.artifact_location = f"/artifacts/{experiment_id}"
    e.experiment_created.creation_time.CopyFrom(_ts(T0_MS))
    for k, v in (tags or {}).items():
        e.experiment_created.tags.add(key=k, value=v)
    return e


def run_started(
    run_id: str, experiment_id: str, name: str = "", tags: dict[str, str] | None = None
) -> pb.Envelope:
    e = _envelope(run_id, pb.AGGREGATE_TYPE_RUN, 1)
    started = e.run_started
    started.experiment_id = experiment_id
    started.run_name = name
    started.user_id = "alice"
    started.start_time.CopyFrom(_ts(T0_MS + 1000))
    for k, v in (tags or {}).items():
        started.tags.add(key=k, value=v)
    return e


def params_logged(run_id: str, params: dict[str, str], seq: int = 2) -> pb.Envelope:
    e = _envelope(run_id, pb.AGGREGATE_TYPE_RUN, seq)
    for k, v in params.items():
        e.params_logged.params.add(key=k, value=v)
    return e


def tags_set(run_id: str, tags: dict[str, str], seq: int = 3) -> pb.Envelope:
    e = _envelope(run_id, pb.AGGREGATE_TYPE_RUN, seq)
    for k, v in tags.items():
        e.tags_set.tags.add(key=k, value=v)
    return e


def metrics_logged(
    run_id: str, points: Sequence[tuple[str, int, int, float]], seq: int = 4
) -> pb.Envelope:
    """points: (key, step, timestamp_ms, value)."""
    e = _envelope(run_id, pb.AGGREGATE_TYPE_RUN, seq)
    m = e.metrics_logged
    m.keys.extend(p[0] for p in points)
    m.steps.extend(p[1] for p in points)
    m.timestamps_ms.extend(p[2] for p in points)
    m.values.extend(p[3] for p in points)
    return e


def run_ended(
    run_id: str, status: pb.RunStatus.ValueType = pb.RUN_STATUS_FINISHED, seq: int = 9
) -> pb.Envelope:
    e = _envelope(run_id, pb.AGGREGATE_TYPE_RUN, seq)
    e.run_ended.status = status
    e.run_ended.end_time.CopyFrom(_ts(T0_MS + 60_000))
    return e


def produce(
    settings: Settings, messages: Sequence[pb.Envelope | tuple[bytes | None, bytes]]
) -> None:
    """Send envelopes (keyed by aggregate id) or raw (key, value) pairs, in order."""
    producer = KafkaProducer(**settings.kafka.client_options(), acks="all")
    try:
        for m in messages:
            key: bytes | None
            if isinstance(m, pb.Envelope):
                key, value = m.aggregate_id.encode(), m.SerializeToString()
            else:
                key, value = m
            producer.send(settings.kafka.events_topic, key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


def wait_until(probe: Callable[[], T], timeout: float = 60.0, what: str = "") -> T:
    """Call probe until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(0.1)


class WorkerThread:
    """A Worker running in a thread; remembers what ended it."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run(self.stop)
        except BaseException as exc:  # the crash tests inspect it
            self.error = exc

    def drained(self, events: int) -> bool:
        """True once the worker consumed `events` records and caught up."""
        if self.error is not None:
            raise AssertionError(f"worker died: {self.error!r}")
        return self.worker.stats.events_consumed >= events and self.worker.drained()

    def finish(self, timeout: float = 30.0) -> None:
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "worker did not stop"


@contextmanager
def running(worker: Worker) -> Iterator[WorkerThread]:
    runner = WorkerThread(worker)
    runner.thread.start()
    try:
        yield runner
    finally:
        runner.finish()


TABLES = ("experiments", "experiment_tags", "runs", "params", "tags", "latest_metrics")


def postgres_snapshot(
    dsn: str, *, orders: bool = False, tables: tuple[str, ...] = TABLES
) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table's rows, sorted (NaN made comparable); the order keys of
    last-writer-wins values (order_key, *_order columns) only when `orders`."""
    with psycopg.connect(dsn) as conn:
        snapshot = {}
        for table in tables:
            columns = [
                str(name)
                for (name,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = %s ORDER BY ordinal_position",
                    (table,),
                )
                if orders or not (name == "order_key" or str(name).endswith("_order"))
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = conn.execute(f"SELECT {listed} FROM {table}").fetchall()
            snapshot[table] = sorted(tuple(_comparable(v) for v in row) for row in rows)
        return snapshot


def clickhouse_snapshot(client: Any, database: str) -> list[tuple[Any, ...]]:
    rows = client.query(
        f"SELECT run_id, key, step, timestamp_ms, value, topic, partition, offset"
        f" FROM {database}.metric_points"
    ).result_rows
    return sorted(tuple(_comparable(v) for v in row) for row in rows)


def _comparable(value: Any) -> Any:
    return "NaN" if isinstance(value, float) and value != value else value
