"""System metrics of a run (`start_run(log_system_metrics=True)`), under MLflow's names.

A daemon thread samples every ``interval`` seconds (TRACKLOG_SYSTEM_METRICS_INTERVAL,
default 10): CPU %, memory, disk and network through psutil, and NVIDIA GPUs through
pynvml when importable, else `nvidia-smi` when on PATH (skipped silently otherwise).
Each sample is logged as one batch of `system/...` metrics with the sample's index as
step. The monitor stops when the run ends (or when logging to the run fails).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

import psutil  # type: ignore[import-untyped]

from tracklog.entities import Metric

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 10.0
_MB = 1024 * 1024
_GPU_QUERY = "utilization.gpu,memory.used"


def interval_from_env() -> float:
    return float(os.environ.get("TRACKLOG_SYSTEM_METRICS_INTERVAL", DEFAULT_INTERVAL_SECONDS))


def host_sample() -> dict[str, float]:
    """CPU, memory, disk (of /) and network counters, as MLflow names them."""
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(os.path.abspath(os.sep))
    net = psutil.net_io_counters()
    sample = {
        "system/cpu_utilization_percentage": psutil.cpu_percent(interval=None),
        "system/system_memory_usage_megabytes": (memory.total - memory.available) / _MB,
        "system/system_memory_usage_percentage": memory.percent,
        "system/disk_usage_percentage": disk.percent,
        "system/disk_usage_megabytes": disk.used / _MB,
        "system/disk_available_megabytes": disk.free / _MB,
    }
    if net is not None:
        sample["system/network_receive_megabytes"] = net.bytes_recv / _MB
        sample["system/network_transmit_megabytes"] = net.bytes_sent / _MB
    return sample


def gpu_sample() -> dict[str, float]:
    """Utilisation % and memory used (MB) per NVIDIA GPU; {} when there is none."""
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return _nvidia_smi_sample()
    try:
        pynvml.nvmlInit()
        sample: dict[str, float] = {}
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            rates = pynvml.nvmlDeviceGetUtilizationRates(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            sample[f"system/gpu_{i}_utilization_percentage"] = float(rates.gpu)
            sample[f"system/gpu_{i}_memory_usage_megabytes"] = memory.used / _MB
        return sample
    except Exception:
        return _nvidia_smi_sample()


def _nvidia_smi_sample() -> dict[str, float]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {}
    try:
        out = subprocess.run(
            [smi, f"--query-gpu={_GPU_QUERY}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return parse_nvidia_smi(out)


def parse_nvidia_smi(out: str) -> dict[str, float]:
    """`utilization, memory used (MiB)` lines -> metrics ("[N/A]" fields are skipped)."""
    sample: dict[str, float] = {}
    for i, line in enumerate(line for line in out.splitlines() if line.strip()):
        fields = [f.strip() for f in line.split(",")]
        names = (f"system/gpu_{i}_utilization_percentage", f"system/gpu_{i}_memory_usage_megabytes")
        for name, value in zip(names, fields, strict=False):
            try:
                sample[name] = float(value)
            except ValueError:
                continue
    return sample


def sample_all() -> dict[str, float]:
    return {**host_sample(), **gpu_sample()}


class SystemMetricsMonitor:
    """Calls ``sink(metrics)`` with a sample every ``interval`` seconds until stopped."""

    def __init__(
        self,
        sink: Callable[[Sequence[Metric]], None],
        interval: float | None = None,
        sampler: Callable[[], dict[str, float]] = sample_all,
    ) -> None:
        self.interval = interval_from_env() if interval is None else interval
        if self.interval <= 0:
            raise ValueError(f"system metrics interval must be positive, got {self.interval}")
        self._sink = sink
        self._sampler = sampler
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="tracklog-system-metrics", daemon=True
        )

    def start(self) -> SystemMetricsMonitor:
        psutil.cpu_percent(interval=None)  # the first call only sets the baseline
        self._thread.start()
        return self

    def _run(self) -> None:
        step = 0
        while not self._stop.wait(self.interval):
            try:
                sample = self._sampler()
                now = time.time_ns() // 1_000_000
                self._sink([Metric(k, v, now, step) for k, v in sample.items()])
            except (ValueError, RuntimeError) as exc:  # the run ended, the session closed
                log.debug("system metrics stopped: %s", exc)
                return
            except Exception:
                log.exception("sampling system metrics failed; stopping")
                return
            step += 1

    def running(self) -> bool:
        """The sampling thread is alive (it ends when stopped or when logging fails)."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
