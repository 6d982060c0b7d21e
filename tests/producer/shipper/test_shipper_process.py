"""The shipper process against a real broker (Tansu): what a session hands over arrives,
once, whoever dies.

Every test runs with the disk spool on (the `spool_dir` fixture) and
TRACKLOG_SHIPPER=process (inherited by the subprocesses), so sessions hand over to the
shipper process of that directory.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.producer.test_kafka_delivery import of, read_topic
from tracklog import Session
from tracklog.contract.flush_tokens import decode
from tracklog.contract.settings import Settings
from tracklog.shipper import launch
from tracklog.shipper.ring import rings_dir
from tracklog.v1 import events_pb2 as pb

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def shipper_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKLOG_SHIPPER", "process")


def shipper_pid(spool_dir: Path, timeout: float = 30.0) -> int:
    """The pid of the shipper process serving ``spool_dir`` (waits for it to be up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if launch.running(spool_dir):
            try:
                return int(json.loads((spool_dir / launch.INFO_FILE).read_text())["pid"])
            except (OSError, ValueError):
                pass
        time.sleep(0.05)
    raise AssertionError(f"no shipper process for {spool_dir}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def points_by_event(envelopes: list[pb.Envelope]) -> dict[str, int]:
    """Metric points per distinct event id (copies of one event count once)."""
    return {e.event_id: len(e.metrics_logged.keys) for e in envelopes}


def test_a_sessions_events_go_through_the_shipper_process(
    settings: Settings, spool_dir: Path
) -> None:
    session = Session(settings.kafka, max_batch_points=1000)
    with session.start_run() as run:
        for step in range(3000):
            session.log_metric("loss", step * 0.5, step=step)
        session.log_param("lr", 0.1)
    token = session.flush_token(30)
    pid = shipper_pid(spool_dir)
    assert pid != os.getpid() and alive(pid)
    assert decode(token), "the token names acknowledged positions"
    assert session.spool is not None and session.spool.pending() == (0, 0)
    assert session.close().events == 0
    events = of(read_topic(settings, expected=6), run.run_id)
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds == ["run_started"] + ["metrics_logged"] * 3 + ["params_logged", "run_ended"]
    assert [e.sequence for e in events] == list(range(1, 7))
    assert [s for e in events[1:4] for s in e.metrics_logged.steps] == list(range(3000))
    deadline = time.monotonic() + 10  # the closed ring is deleted once spooled
    while list(rings_dir(spool_dir).glob("*.ring")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(rings_dir(spool_dir).glob("*.ring")) == []


CHILD = textwrap.dedent(
    """
    import os, sys, time
    from tracklog import Session
    from tracklog.contract.settings import KafkaSettings

    session = Session(KafkaSettings(bootstrap_servers=sys.argv[1], events_topic=sys.argv[2]))
    run = session.start_run()
    for step in range({steps}):
        session.log_metrics({{"loss": 1.0 / (step + 1), "acc": step * 1e-4}}, step=step)
    session.set_tag("child", "yes")
    print(run.run_id, flush=True)
    {after}
    """
)


def child(settings: Settings, steps: int, after: str) -> subprocess.Popen[str]:
    code = CHILD.format(steps=steps, after=after)
    return subprocess.Popen(
        [sys.executable, "-c", code, settings.kafka.bootstrap_servers, settings.kafka.events_topic],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_training_process_killed_right_after_its_calls_loses_nothing(
    settings: Settings, spool_dir: Path
) -> None:
    steps = 20_000
    process = child(settings, steps, after="time.sleep(600)")
    assert process.stdout is not None
    run_id = process.stdout.readline().strip()
    process.send_signal(signal.SIGKILL)  # no exit flush, no close: only what was handed over
    process.wait(10)
    assert run_id, process.stderr.read() if process.stderr else ""
    envelopes = of(read_topic(settings, expected=1 + 2 + 1, timeout=60), run_id)
    kinds = [e.WhichOneof("payload") for e in envelopes]
    assert kinds[0] == "run_started" and kinds[-1] == "tags_set"
    assert sum(points_by_event(envelopes).values()) == 2 * steps


def test_a_shipper_killed_mid_stream_is_restarted_and_nothing_is_lost_or_doubled(
    settings: Settings, spool_dir: Path
) -> None:
    session = Session(settings.kafka, max_batch_points=500)
    steps = 40_000
    with session.start_run() as run:
        killed = 0
        for step in range(steps):
            session.log_metrics({"a": step * 0.5, "b": 1.0}, step=step)
            if step in (10_000, 25_000):
                os.kill(shipper_pid(spool_dir), signal.SIGKILL)
                killed += 1
                time.sleep(0.2)
    assert session.flush(90), "everything acknowledged after the restarts"
    session.close()
    envelopes = of(read_topic(settings, expected=steps * 2 // 500, timeout=60), run.run_id)
    by_event = points_by_event(envelopes)
    copies = len(envelopes) - len(by_event)
    print(f"{len(envelopes)} events on the topic, {copies} copies of a re-sent one")
    assert sum(by_event.values()) == 2 * steps  # every point once (the worker drops copies)
    for e in envelopes:  # a copy is the same event: same session, sequence and points
        assert (
            e.SerializeToString()
            == next(x for x in envelopes if x.event_id == e.event_id).SerializeToString()
        )
    steps_seen = sorted(
        s for e in {e.event_id: e for e in envelopes}.values() for s in e.metrics_logged.steps
    )
    assert steps_seen == sorted(list(range(steps)) * 2)


def test_two_processes_share_one_shipper(settings: Settings, spool_dir: Path) -> None:
    after = "t = time.time(); assert session.flush(60); print(time.time() - t); session.close()"
    first = child(settings, 2000, after=after)
    second = child(settings, 3000, after=after)
    runs = []
    for process in (first, second):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        runs.append(out.split()[0])
    assert "sending from this process" not in err
    log_text = (spool_dir / launch.LOG_FILE).read_text()
    assert log_text.count("serving") == 1, log_text  # one shipper served both
    messages = read_topic(settings, expected=2 * 4)  # started, 2 metrics, tags
    assert sum(points_by_event(of(messages, runs[0])).values()) == 2 * 2000
    assert sum(points_by_event(of(messages, runs[1])).values()) == 2 * 3000


def test_without_a_shipper_process_the_session_sends_from_its_own_process(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TRACKLOG_SHIPPER_START_SECONDS", "0.5")

    def cannot_start(config: launch.ShipperConfig) -> int:
        raise OSError("no python here")

    monkeypatch.setattr(launch, "start", cannot_start)
    with caplog.at_level(logging.WARNING):
        session = Session(settings.kafka)
        with session.start_run() as run:
            session.log_metric("loss", 1.0, step=1)
        assert session.flush(30)
    assert "sending from this process instead" in caplog.text
    session.close()
    kinds = [e.WhichOneof("payload") for e in of(read_topic(settings, expected=3), run.run_id)]
    assert kinds == ["run_started", "metrics_logged", "run_ended"]


def test_a_forked_child_writes_a_ring_of_its_own(settings: Settings, spool_dir: Path) -> None:
    session = Session(settings.kafka)
    run = session.start_run()
    session.log_metric("parent", 1.0, step=0)
    parent_ring = session._delivery.batcher.ring_id  # type: ignore[attr-defined]
    pid = os.fork()
    if pid == 0:  # the child: its calls go to a new ring, read by the same shipper
        code = 1
        try:
            session.log_metric("child", 2.0, step=0)
            child_ring = session._delivery.batcher.ring_id  # type: ignore[attr-defined]
            code = 0 if child_ring != parent_ring and session.flush(30) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    session.log_metric("parent", 3.0, step=1)
    session.end_run()
    assert session.flush(30)
    session.close()
    envelopes = of(read_topic(settings, expected=4), run.run_id)
    keys = sorted(k for e in envelopes for k in e.metrics_logged.keys)
    assert keys == ["child", "parent", "parent"]
