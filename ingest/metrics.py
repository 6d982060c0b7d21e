"""The ingest worker's Prometheus metrics, in a registry of its own, served over HTTP.

Counters and the batch-latency histogram are prometheus_client's (thread-safe);
lag, pause state and the recent rates are computed at scrape time by one
collector under a lock, so a scrape never sees half of a lag update and
`tracklog status` can print rates from a single scrape.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.metrics_core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "tracklog_ingest_"
RATE_WINDOW_SECONDS = 10.0
BATCH_WRITE_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
MAX_REASON_CHARS = 200


class MetricsServer:
    """The HTTP endpoint serving /metrics; `port` is the one bound (useful with port 0)."""

    def __init__(self, host: str, port: int, shutdown: Callable[[], None]) -> None:
        self.host = host
        self.port = port
        self._shutdown = shutdown
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._shutdown()


def split_address(address: str) -> tuple[str, int]:
    """Split host:port (or [v6]:port); a bare ":port" means every interface."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"metrics address {address!r} is not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


class _Recent:
    """Counts per batch over a sliding window; rates over the window (or less, just after start)."""

    def __init__(self, clock: Callable[[], float], window: float) -> None:
        self._clock = clock
        self._window = window
        self._started = clock()
        self._batches: deque[tuple[float, int, int]] = deque()

    def add(self, events: int, points: int) -> None:
        now = self._clock()
        self._batches.append((now, events, points))
        self._prune(now)

    def rates(self) -> tuple[float, float]:
        now = self._clock()
        self._prune(now)
        # Just after start the span is shorter than the window, but at least a second
        # (or the window), so one early batch does not read as a huge rate.
        span = min(self._window, max(now - self._started, min(1.0, self._window)))
        events = sum(b[1] for b in self._batches)
        points = sum(b[2] for b in self._batches)
        return events / span, points / span

    def _prune(self, now: float) -> None:
        while self._batches and self._batches[0][0] <= now - self._window:
            self._batches.popleft()


class IngestMetrics:
    """What one worker reports; each instance has its own registry (several may share a process)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        rate_window_seconds: float = RATE_WINDOW_SECONDS,
    ) -> None:
        self.registry = CollectorRegistry()
        self._lock = threading.Lock()
        self._recent = _Recent(clock, rate_window_seconds)
        self._lag: dict[tuple[str, int], int] = {}
        self._paused = False
        self._pause_reason = ""
        self._window = rate_window_seconds
        r = self.registry
        self._events = Counter(PREFIX + "events", "Events consumed and written", registry=r)
        self._points = Counter(PREFIX + "points", "Metric points written to ClickHouse", registry=r)
        self._dead_letters = Counter(
            PREFIX + "dead_letters", "Events sent to the dead-letter topic", registry=r
        )
        self._retries = Counter(
            PREFIX + "retries",
            "Failed write attempts that will be retried, by stage",
            ["stage"],
            registry=r,
        )
        self._batch_write = Histogram(
            PREFIX + "batch_write_seconds",
            "Time to write one batch to both stores",
            buckets=BATCH_WRITE_BUCKETS,
            registry=r,
        )
        r.register(_ScrapeTimeCollector(self._scrape_time_metrics))

    def batch_written(self, events: int, points: int, seconds: float) -> None:
        """One batch written to both stores."""
        self._events.inc(events)
        self._points.inc(points)
        self._batch_write.observe(seconds)
        with self._lock:
            self._recent.add(events, points)

    def dead_lettered(self, count: int) -> None:
        self._dead_letters.inc(count)

    def retried(self, stage: str) -> None:
        """A failed write attempt that will be retried (stage: "clickhouse", "postgres", ...)."""
        self._retries.labels(stage=stage).inc()

    def set_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """(topic, partition) -> records not written yet; replaces the previous set."""
        with self._lock:
            self._lag = dict(lags)

    def set_paused(self, paused: bool, reason: str = "") -> None:
        """Consumption paused (a store fails) or resumed; the reason is shown while paused."""
        with self._lock:
            self._paused = paused
            self._pause_reason = " ".join(reason.split())[:MAX_REASON_CHARS] if paused else ""

    def serve(self, address: str) -> MetricsServer:
        """Serve /metrics over HTTP at "host:port" (port 0: any free port) in a daemon thread."""
        host, port = split_address(address)
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, bind_host = found[0][0], str(found[0][4][0])  # IPv4 or IPv6, as the host says

        class Server(ThreadingWSGIServer):
            address_family = family

        server = make_server(
            bind_host, port, make_wsgi_app(self.registry), Server, handler_class=_QuietHandler
        )
        # A short poll interval so that closing (at every worker stop) takes milliseconds.
        thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="tracklog-metrics", daemon=True
        )
        thread.start()

        def shutdown() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return MetricsServer(host, int(server.server_port), shutdown)

    def _scrape_time_metrics(self) -> Iterable[Metric]:
        with self._lock:
            lag = sorted(self._lag.items())
            paused, reason = self._paused, self._pause_reason
            events_rate, points_rate = self._recent.rates()
        over = f"over the last {self._window:g} s"
        yield GaugeMetricFamily(
            PREFIX + "rate_window_seconds", "Window of the per-second rates", self._window
        )
        yield GaugeMetricFamily(PREFIX + "events_per_second", f"Events written {over}", events_rate)
        yield GaugeMetricFamily(PREFIX + "points_per_second", f"Points written {over}", points_rate)
        lag_family = GaugeMetricFamily(
            PREFIX + "lag",
            "Records not written yet, per partition (from the consumer's high-water marks)",
            labels=["topic", "partition"],
        )
        for (topic, partition), records in lag:
            lag_family.add_metric([topic, str(partition)], records)
        yield lag_family
        yield GaugeMetricFamily(
            PREFIX + "paused", "1 while consumption is paused because a store fails", int(paused)
        )
        if paused:
            yield InfoMetricFamily(PREFIX + "pause", "Why it is paused", {"reason": reason})


class _ScrapeTimeCollector(Collector):
    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""
