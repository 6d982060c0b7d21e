"""System metrics: sampled into the run under `system/` keys, stopped when the run ends."""

from __future__ import annotations

import threading
import time

import pytest

from tests.producer.fakes import RecordingSink
from tracklog import Session
from tracklog.system_metrics import SystemMetricsMonitor, host_sample, parse_nvidia_smi

MLFLOW_KEYS = {
    "system/cpu_utilization_percentage",
    "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage",
    "system/disk_usage_percentage",
    "system/disk_usage_megabytes",
    "system/network_receive_megabytes",
    "system/network_transmit_megabytes",
}


def system_points(sink: RecordingSink, run_id: str) -> list[tuple[str, int]]:
    return [
        (key, step)
        for key_, env in sink.messages
        if key_ == run_id and env.WhichOneof("payload") == "metrics_logged"
        for key, step in zip(env.metrics_logged.keys, env.metrics_logged.steps, strict=True)
        if key.startswith("system/")
    ]


def sampling_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tracklog-system-metrics"]


def test_samples_under_system_keys_until_the_run_ends(
    session: Session, sink: RecordingSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLOG_SYSTEM_METRICS_INTERVAL", "0.05")
    before = set(sampling_threads())
    with session.start_run(log_system_metrics=True) as run:
        mine = set(sampling_threads()) - before
        assert len(mine) == 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert session.flush(5)
            if len({s for _, s in system_points(sink, run.run_id)}) >= 2:
                break
            time.sleep(0.02)
    assert session.flush(5)
    points = system_points(sink, run.run_id)
    assert {key for key, _ in points} >= MLFLOW_KEYS
    assert {step for _, step in points} >= {0, 1}
    ended_with = len(points)
    # the run's end stopped and joined the sampling thread: nothing can be sampled after it
    assert not any(thread.is_alive() for thread in mine)
    assert session.flush(5)
    assert len(system_points(sink, run.run_id)) == ended_with
    kinds = [env.WhichOneof("payload") for key, env in sink.messages if key == run.run_id]
    assert kinds[-1] == "run_ended"


def test_without_the_flag_nothing_is_sampled(session: Session, sink: RecordingSink) -> None:
    with session.start_run() as run:
        session.log_metric("loss", 1.0)
    assert session.flush(5)
    assert system_points(sink, run.run_id) == []


def test_monitor_stops_when_logging_fails() -> None:
    calls: list[int] = []

    def refuse(metrics: object) -> None:
        calls.append(1)
        raise ValueError("cannot log to run 'x': it has ended")

    monitor = SystemMetricsMonitor(refuse, interval=0.01, sampler=lambda: {"system/x": 1.0})
    monitor.start()
    deadline = time.monotonic() + 10
    while monitor.running() and time.monotonic() < deadline:  # it stops by itself
        time.sleep(0.01)
    assert not monitor.running(), "the monitor kept sampling after logging failed"
    assert calls == [1]
    monitor.stop()


def test_host_sample_and_nvidia_smi_parsing() -> None:
    assert set(host_sample()) >= MLFLOW_KEYS
    assert parse_nvidia_smi("37, 1024\n5, [N/A]\n") == {
        "system/gpu_0_utilization_percentage": 37.0,
        "system/gpu_0_memory_usage_megabytes": 1024.0,
        "system/gpu_1_utilization_percentage": 5.0,
    }
    with pytest.raises(ValueError, match="positive"):
        SystemMetricsMonitor(lambda m: None, interval=0)
