"""SDK cost per logged point on the calling thread, and the sender's throughput.

    .venv/bin/python tests/benchmarks/bench_sdk.py [--points 1000000]

Uses the broker at TRACKLOG_KAFKA_BOOTSTRAP, or starts its own Tansu (memory
storage) on a free port. Each scenario logs to a fresh topic, then flushes:
"calling thread" is the time spent inside the logging calls divided by the points;
"end to end" is points acknowledged by the broker per second, from the first
call to the end of flush (the sender shares the GIL with the logging thread).
"sender alone" fills the buffer while the sender is held back, then times the
drain: encoding, compression, produce and acks, with no logging competing (with
the spool, the events are on disk already: the drain is the shipper's).
Every scenario runs with the disk spool (in a temporary directory) and without
(TRACKLOG_SPOOL_DIR=off), to show what the spool costs, and (``--shipper``) with the
spool behind a shipper process (TRACKLOG_SHIPPER=process; a spool directory per scenario,
since a shipper serves one topic).

    .venv/bin/python tests/benchmarks/bench_sdk.py --shipper --runs 5 [--points 1000000]

with ``--runs`` above 1 compares only the two ways of sending with the disk spool (threads
of this process, a shipper process), ``--runs`` times each, alternating, and prints the
medians per scenario.

    .venv/bin/python tests/benchmarks/bench_sdk.py --bare-put [--repeat 7]

times only the calling thread's own work, with no broker: the batcher's ``put`` and
``put_point`` do nothing, so the figure is the SDK's validation and columnar building plus
a bare call (the median of ``--repeat`` timings of each scenario, wall and the thread's CPU time,
which a loaded machine disturbs less; the goal beside it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from unittest import mock

from tracklog import Session
from tracklog.contract.settings import KafkaSettings, Settings, SpoolSettings
from tracklog.contract.topics import ensure_topics
from tracklog.deploy.embedded.broker import TansuBroker
from tracklog.deploy.processes import free_port
from tracklog.sending.batcher import Batcher, PendingEvent, Points
from tracklog.sending.sink import DoneCallback, EventSink, kafka_sink_factory
from tracklog.shipper import launch


@contextmanager
def broker() -> Iterator[KafkaSettings]:
    if os.environ.get("TRACKLOG_KAFKA_BOOTSTRAP"):
        yield Settings.from_env().kafka
        return
    tansu = TansuBroker(port=free_port()).start()
    try:
        yield KafkaSettings(bootstrap_servers=tansu.bootstrap)
    finally:
        tansu.stop()


def loop_of_log_metric(session: Session, points: int) -> None:
    log_metric = session.log_metric
    for step in range(points):
        log_metric("loss", step * 1e-3, step=step)


def log_metrics_ten_keys(session: Session, points: int) -> None:
    keys = [f"layer{i}/grad_norm" for i in range(10)]
    log_metrics = session.log_metrics
    for step in range(points // 10):
        value = step * 1e-3
        log_metrics({key: value for key in keys}, step=step)


def fresh_topic(kafka: KafkaSettings) -> KafkaSettings:
    kafka = replace(kafka, events_topic=f"tracklog.bench.{uuid.uuid4().hex[:8]}")
    ensure_topics(kafka)
    return kafka


def measure(
    kafka: KafkaSettings,
    name: str,
    points: int,
    body: Callable[[Session, int], None],
    spool: SpoolSettings,
) -> tuple[float, float]:
    """Print and return (calling thread us per point, end-to-end points per second)."""
    kafka = fresh_topic(kafka)
    if os.environ.get("TRACKLOG_SHIPPER") == "process" and spool.directory is not None:
        spool = SpoolSettings(spool.directory / kafka.events_topic)  # one shipper per topic
    session = Session(kafka, spool=spool)
    with session.start_run(run_name=name):
        started = time.perf_counter()
        body(session, points)
        logged = time.perf_counter()
    ok = bool(session.flush(timeout=600))
    acked = time.perf_counter()
    unsent = session.close()
    per_point_us = (logged - started) / points * 1e6
    print(
        f"{name:<22} {points:>9,} points  calling thread {per_point_us:5.2f} us/point  "
        f"end to end {points / (acked - started):>9,.0f} points/s "
        f"(flush ok={ok}, unsent={unsent.events} events/{unsent.points} points)"
    )
    return per_point_us, points / (acked - started)


def sender_alone(kafka: KafkaSettings, points: int, spool: SpoolSettings) -> None:
    kafka = fresh_topic(kafka)
    gate = threading.Event()
    create = kafka_sink_factory(kafka)

    def held_back() -> EventSink:
        sink = create()
        gate.wait()
        return sink

    session = Session(kafka, sink_factory=held_back, max_buffered_points=points + 1, spool=spool)
    with session.start_run(run_name="sender alone"):
        log_metrics_ten_keys(session, points)
    time.sleep(0.5)  # let the sender take the queue and block on the gate
    started = time.perf_counter()
    gate.set()
    ok = bool(session.flush(timeout=600))
    drained = time.perf_counter()
    session.close()
    print(
        f"{'sender alone':<22} {points:>9,} points  "
        f"{points / (drained - started):,.0f} points/s acknowledged (flush ok={ok})"
    )


class _NoSink:
    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        on_done(None)

    def close(self, timeout: float) -> None:
        pass


def _bare_put(
    self: Batcher, run_id: str, events: Sequence[PendingEvent] = (), points: Points | None = None
) -> None:
    """The hand-over call, doing nothing (so only the calling thread's own work is timed)."""


def _bare_put_point(
    self: Batcher, run_id: str, key: str, step: int, timestamp_ms: int, value: float, nbytes: int
) -> None:
    """The one-point hand-over call, doing nothing."""


def bare_put(points: int, repeat: int) -> None:
    """Each scenario's calling-thread cost with a `put` that does nothing, no broker."""
    goals = {"log_metric loop": 1.5, "log_metrics 10 keys": 0.5}
    session = Session(
        KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}"),
        sink_factory=_NoSink,
        spool=SpoolSettings(None),
        query_addr="",
    )
    with (
        mock.patch.object(Batcher, "put", _bare_put),
        mock.patch.object(Batcher, "put_point", _bare_put_point),
        session.start_run(run_name="bare put"),
    ):
        for name, body in (
            ("log_metric loop", loop_of_log_metric),
            ("log_metrics 10 keys", log_metrics_ten_keys),
        ):
            body(session, points // 10)  # warm: keys validated and cached
            timings, cpu = [], []
            for _ in range(repeat):
                started, started_cpu = time.perf_counter(), time.thread_time()
                body(session, points)
                cpu.append((time.thread_time() - started_cpu) / points * 1e6)
                timings.append((time.perf_counter() - started) / points * 1e6)
            print(
                f"{name:<22} {points:>9,} points  calling thread, bare put: median "
                f"{statistics.median(timings):.3f} us/point (min {min(timings):.3f}, max "
                f"{max(timings):.3f}, {repeat} runs; thread CPU time "
                f"{statistics.median(cpu):.3f}; goal with the real put <= {goals[name]} us)"
            )
    session.close(1)


def compare_shipper(kafka: KafkaSettings, points: int, runs: int, spool_dir: Path) -> None:
    """Both scenarios with the disk spool, in-process threads against a shipper process,
    ``runs`` times each (alternating); then the medians."""
    figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
    scenarios = (
        ("log_metric loop", loop_of_log_metric),
        ("log_metrics 10 keys", log_metrics_ten_keys),
    )
    for run in range(runs):
        for mode in ("thread", "process"):
            print(f"-- run {run + 1} of {runs}, TRACKLOG_SHIPPER={mode}")
            os.environ["TRACKLOG_SHIPPER"] = mode
            spool = SpoolSettings(spool_dir / f"{mode}-{run}")
            for name, body in scenarios:
                figures.setdefault((mode, name), []).append(
                    measure(kafka, name, points, body, spool)
                )
    del os.environ["TRACKLOG_SHIPPER"]
    print(f"-- medians of {runs} runs")
    for (mode, name), measured in figures.items():
        print(
            f"TRACKLOG_SHIPPER={mode:<8} {name:<22} calling thread "
            f"{statistics.median(m[0] for m in measured):5.2f} us/point  end to end "
            f"{statistics.median(m[1] for m in measured):>9,.0f} points/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--bare-put", action="store_true", help="time the calling thread only")
    parser.add_argument("--repeat", type=int, default=7, help="timings per --bare-put scenario")
    parser.add_argument("--shipper", action="store_true", help="also through a shipper process")
    parser.add_argument("--runs", type=int, default=1, help="with --shipper: compare, N times")
    args = parser.parse_args()
    if args.bare_put:
        bare_put(args.points, args.repeat)
        return
    with broker() as kafka:
        print(f"broker {kafka.bootstrap_servers}")
        with tempfile.TemporaryDirectory(prefix="tracklog-spool-") as spool_dir:
            if args.shipper and args.runs > 1:
                try:
                    compare_shipper(kafka, args.points, args.runs, Path(spool_dir))
                finally:
                    stop_shippers()
                return
            for label, spool in (
                ("disk spool", SpoolSettings(Path(spool_dir))),
                ("no spool (TRACKLOG_SPOOL_DIR=off)", SpoolSettings(None)),
            ):
                print(f"-- {label}")
                measure(kafka, "log_metric loop", args.points, loop_of_log_metric, spool)
                measure(kafka, "log_metrics 10 keys", args.points, log_metrics_ten_keys, spool)
                sender_alone(kafka, args.points, spool)
            if args.shipper:
                print("-- disk spool, shipper process (TRACKLOG_SHIPPER=process)")
                os.environ["TRACKLOG_SHIPPER"] = "process"
                try:
                    spool = SpoolSettings(Path(spool_dir) / "shipped")
                    measure(kafka, "log_metric loop", args.points, loop_of_log_metric, spool)
                    measure(kafka, "log_metrics 10 keys", args.points, log_metrics_ten_keys, spool)
                finally:
                    del os.environ["TRACKLOG_SHIPPER"]
                    stop_shippers()


def stop_shippers() -> None:
    """The shippers of the temporary spool directories (they would exit idle anyway)."""
    for pid in launch.started_pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
