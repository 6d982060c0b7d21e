"""A whole Tracklog pipeline inside the test process: worker thread + gRPC server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import grpc
import psycopg

from tracklog.contract.settings import Settings
from tracklog.ingest.worker import Worker
from tracklog.query.server import create_server
from tracklog.v1 import query_pb2, query_pb2_grpc

T = TypeVar("T")


@dataclass
class Pipeline:
    settings: Settings
    worker: Worker
    stub: query_pb2_grpc.QueryServiceStub
    address: str

    def history(
        self, run_id: str, key: str, page_size: int = 100_000
    ) -> list[tuple[int, int, float]]:
        points: list[tuple[int, int, float]] = []
        token = ""
        while True:
            page = self.stub.GetMetricHistory(
                query_pb2.GetMetricHistoryRequest(
                    run_id=run_id, metric_key=key, page_size=page_size, page_token=token
                )
            )
            points.extend((p.step, p.timestamp_ms, p.value) for p in page.points)
            token = page.next_page_token
            if not token:
                return points

    def get_run(self, run_id: str) -> Any:
        return self.stub.GetRun(query_pb2.GetRunRequest(run_id=run_id)).run


def wait_until(probe: Callable[[], T | None], timeout: float = 60.0, what: str = "") -> T:
    """Call probe until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except grpc.RpcError as err:  # not projected yet
            last_error = err
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error {last_error})")


@contextmanager
def running_pipeline(settings: Settings, clickhouse: Any) -> Iterator[Pipeline]:
    worker = Worker(settings, clickhouse)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    server, port = create_server("127.0.0.1:0", settings, clickhouse)
    server.start()
    address = f"127.0.0.1:{port}"
    channel = grpc.insecure_channel(address)
    try:
        yield Pipeline(settings, worker, query_pb2_grpc.QueryServiceStub(channel), address)
    finally:
        channel.close()
        server.stop(0).wait()
        stop.set()
        thread.join(timeout=60)


def replay_from_offset_zero(settings: Settings, clickhouse: Any) -> None:
    """Forget the Postgres tracking rows and let a new consumer group read the topic from
    offset 0 until drained: every Postgres change is applied a second time."""
    with psycopg.connect(settings.postgres_dsn) as conn:
        conn.execute("DELETE FROM projection_offsets")
    again = replace(settings, consumer_group=settings.consumer_group + "-replay")
    with running_pipeline(again, clickhouse) as pipeline:
        wait_until(pipeline.worker.drained, timeout=120, what="the replaying worker to drain")
