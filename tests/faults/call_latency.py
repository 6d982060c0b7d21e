"""Wall time of paced logging calls, and how much of it was the SDK's own.

Shared by the broker-outage fault test (which asserts only that no call waited on
the broker) and tests/benchmarks/bench_outage_latency.py (which prints the
sub-millisecond figures). "Blocked" is a call's wall time less the time Linux kept
the thread runnable but off a CPU (its run-queue wait, /proc/.../schedstat) and
less the garbage collections that ran inside the call: neither is the SDK waiting.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tracklog.session import Session

REPORT_OVER_NS = 1_000_000  # calls slower than this are examined one by one
SWITCH_INTERVAL = 0.0002  # seconds a thread may hold the GIL while another waits


class GcPauses:
    """Collections during the loop: per generation, how many and the longest (ns)."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.longest = [0, 0, 0]
        self.total_ns = 0  # all collections so far
        self._started = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter_ns()
            return
        generation = info["generation"]
        took = time.perf_counter_ns() - self._started
        self.count[generation] += 1
        self.longest[generation] = max(self.longest[generation], took)
        self.total_ns += took


def run_queue_wait_ns() -> Callable[[], int]:
    """This thread's total time runnable but not running (0 where Linux does not say)."""
    path = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat")
    if not path.exists():
        return lambda: 0
    return lambda: int(path.read_text().split()[1])


@dataclass
class CallLatencies:
    """Per call: wall time (ns); for calls over REPORT_OVER_NS, run-queue wait + gc (ns)."""

    latencies: array[int]
    waits: dict[int, int] = field(default_factory=dict)
    gc_pauses: GcPauses = field(default_factory=GcPauses)

    def quantile(self, q: float) -> int:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    @property
    def longest_blocked(self) -> int:
        """The longest wall time of a call less its run-queue wait and collections."""
        if not self.waits:
            return max(self.latencies, default=0)
        return max(self.latencies[step] - wait for step, wait in self.waits.items())


@contextmanager
def latency_sensitive() -> Iterator[GcPauses]:
    """Run as a latency-sensitive program would: the GIL switch interval at 200 us
    (CPython's default of 5 ms lets a background thread keep a logging call waiting that
    long) and `gc.freeze()` after setup; collections are timed while inside."""
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.freeze()
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    try:
        yield pauses
    finally:
        sys.setswitchinterval(switch_interval)
        gc.callbacks.remove(pauses)
        gc.unfreeze()


def log_paced(
    session: Session,
    keys: Sequence[str],
    steps: int,
    seconds: float,
    value_of: Callable[[int, int], float],
    gc_pauses: GcPauses,
) -> CallLatencies:
    """Log ``steps`` calls of len(keys) points spread evenly over ``seconds``; a slow
    call's run-queue wait plus the collections inside it are kept beside its wall time."""
    measured = CallLatencies(array("q", bytes(8 * steps)), gc_pauses=gc_pauses)
    latencies, waits = measured.latencies, measured.waits
    period_ns = int(seconds * 1e9) // steps
    waited = run_queue_wait_ns()
    start = time.perf_counter_ns()
    for step in range(steps):
        ahead = start + step * period_ns - time.perf_counter_ns()
        if ahead > 100_000:
            time.sleep(ahead / 1e9)
        metrics = {key: value_of(i, step) for i, key in enumerate(keys)}
        waited_before, collected_before = waited(), gc_pauses.total_ns
        t0 = time.perf_counter_ns()
        session.log_metrics(metrics, step=step, timestamp=1_000)
        latencies[step] = elapsed = time.perf_counter_ns() - t0
        if elapsed > REPORT_OVER_NS:
            waits[step] = waited() - waited_before + gc_pauses.total_ns - collected_before
    return measured


def report(measured: CallLatencies, seconds: float) -> str:
    """The figures, readably: slow calls, collections, quantiles and the blocked part."""
    period = seconds / len(measured.latencies)
    slow = ", ".join(
        f"{step * period:.2f}: {measured.latencies[step] / 1e3:.0f} / {wait / 1e3:.0f}"
        for step, wait in list(measured.waits.items())[:20]
    )
    pauses = measured.gc_pauses
    collections = ", ".join(
        f"{c} (longest {ns / 1e3:.0f} us)"
        for c, ns in zip(pauses.count, pauses.longest, strict=True)
    )
    return (
        f"calls over {REPORT_OVER_NS / 1e6:g} ms (s into the loop: wall / run-queue + gc, us): "
        f"{slow or 'none'}\n"
        f"gc collections per generation: {collections}\n"
        f"logging calls {len(measured.latencies)}: p50 {measured.quantile(0.5) / 1e3:.1f} us, "
        f"p99 {measured.quantile(0.99) / 1e3:.1f} us, p99.9 {measured.quantile(0.999) / 1e3:.1f} "
        f"us, max {max(measured.latencies) / 1e3:.0f} us (SDK's own, less run-queue wait and gc: "
        f"{measured.longest_blocked / 1e3:.0f} us), calls over {REPORT_OVER_NS / 1e6:g} ms: "
        f"{len(measured.waits)} (switch interval {SWITCH_INTERVAL * 1e6:.0f} us)"
    )
