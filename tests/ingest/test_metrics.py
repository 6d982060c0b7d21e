"""IngestMetrics: counters, scrape-time rates over the window, lag replacement, histogram,
and the HTTP endpoint on port 0."""

from __future__ import annotations

import threading
import urllib.request

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tracklog.ingest.metrics import IngestMetrics, split_address


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def samples(metrics: IngestMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of one scrape, keyed by (name, sorted labels)."""
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: IngestMetrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get(("tracklog_ingest_" + name, tuple(sorted(labels.items()))))


def test_counters_add_up() -> None:
    m = IngestMetrics()
    m.batch_written(events=3, points=300, seconds=0.01)
    m.batch_written(events=2, points=0, seconds=0.02)
    m.dead_lettered(4)
    m.retried("postgres")
    m.retried("postgres")
    m.retried("clickhouse")
    assert value(m, "events_total") == 5
    assert value(m, "points_total") == 300
    assert value(m, "dead_letters_total") == 4
    assert value(m, "retries_total", stage="postgres") == 2
    assert value(m, "retries_total", stage="clickhouse") == 1
    assert value(m, "retries_total", stage="archive") is None


def test_rates_cover_the_window_and_forget_older_batches() -> None:
    clock = FakeClock()
    m = IngestMetrics(clock=clock, rate_window_seconds=10.0)
    clock.now += 20  # long after start: the span is the whole window
    m.batch_written(events=100, points=1000, seconds=0.01)
    clock.now += 5
    m.batch_written(events=50, points=500, seconds=0.01)
    assert value(m, "events_per_second") == pytest.approx(15.0)
    assert value(m, "points_per_second") == pytest.approx(150.0)
    assert value(m, "rate_window_seconds") == 10.0
    clock.now += 6  # the first batch is now 11 s old
    assert value(m, "events_per_second") == pytest.approx(5.0)
    clock.now += 10
    assert value(m, "events_per_second") == 0.0
    assert value(m, "events_total") == 150  # totals are not windowed


def test_rates_just_after_start_use_the_elapsed_time_but_at_least_a_second() -> None:
    clock = FakeClock()
    m = IngestMetrics(clock=clock, rate_window_seconds=10.0)
    clock.now += 4
    m.batch_written(events=40, points=400, seconds=0.01)
    assert value(m, "events_per_second") == pytest.approx(10.0)  # 40 over 4 s, not 10 s
    clock.now = 1000.1  # a batch 0.1 s after start reads over one second
    m2 = IngestMetrics(clock=clock)
    m2.batch_written(events=7, points=0, seconds=0.01)
    assert value(m2, "events_per_second") == pytest.approx(7.0)


def test_lag_is_replaced_as_a_whole() -> None:
    m = IngestMetrics()
    assert not [k for k in samples(m) if k[0] == "tracklog_ingest_lag"]  # unknown at start
    m.set_lag({("events", 0): 5, ("events", 1): 7})
    assert value(m, "lag", topic="events", partition="0") == 5
    assert value(m, "lag", topic="events", partition="1") == 7
    m.set_lag({("events", 1): 2, ("events", 3): 0})  # partition 0 revoked, 3 assigned
    lags = {k: v for k, v in samples(m).items() if k[0] == "tracklog_ingest_lag"}
    assert lags == {
        ("tracklog_ingest_lag", (("partition", "1"), ("topic", "events"))): 2,
        ("tracklog_ingest_lag", (("partition", "3"), ("topic", "events"))): 0,
    }


def test_paused_and_its_reason() -> None:
    m = IngestMetrics()
    assert value(m, "paused") == 0
    m.set_paused(True, 'postgres: connection refused\n  (is it "up"?)')
    assert value(m, "paused") == 1
    reason = 'postgres: connection refused (is it "up"?)'
    assert value(m, "pause_info", reason=reason) == 1
    m.set_paused(False)
    assert value(m, "paused") == 0
    assert not [k for k in samples(m) if k[0] == "tracklog_ingest_pause_info"]


def test_batch_write_histogram_buckets() -> None:
    m = IngestMetrics()
    for seconds in (0.0005, 0.003, 0.003, 0.2, 45.0):
        m.batch_written(events=1, points=0, seconds=seconds)
    assert value(m, "batch_write_seconds_bucket", le="0.001") == 1
    assert value(m, "batch_write_seconds_bucket", le="0.005") == 3
    assert value(m, "batch_write_seconds_bucket", le="0.25") == 4
    assert value(m, "batch_write_seconds_bucket", le="30.0") == 4
    assert value(m, "batch_write_seconds_bucket", le="+Inf") == 5
    assert value(m, "batch_write_seconds_count") == 5
    assert value(m, "batch_write_seconds_sum") == pytest.approx(45.2065)


def test_instances_have_their_own_registries() -> None:
    a, b = IngestMetrics(), IngestMetrics()
    a.batch_written(events=1, points=1, seconds=0.01)
    assert value(a, "events_total") == 1
    assert value(b, "events_total") == 0


def test_concurrent_updates_lose_nothing() -> None:
    m = IngestMetrics()

    def work() -> None:
        for _ in range(2000):
            m.batch_written(events=1, points=2, seconds=0.001)
            m.set_lag({("t", 0): 1})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(20):
        samples(m)  # scrapes while the updates run
    for t in threads:
        t.join()
    assert value(m, "events_total") == 8000
    assert value(m, "points_total") == 16000


def test_served_over_http_on_port_zero() -> None:
    m = IngestMetrics()
    m.batch_written(events=12, points=34, seconds=0.01)
    server = m.serve("127.0.0.1:0")
    try:
        assert server.port > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        assert "tracklog_ingest_events_total 12.0" in text
        assert "tracklog_ingest_points_total 34.0" in text
    finally:
        server.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=2)


def test_split_address() -> None:
    assert split_address("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert split_address(":0") == ("0.0.0.0", 0)
    assert split_address("[::1]:9464") == ("::1", 9464)
    with pytest.raises(ValueError, match="host:port"):
        split_address("localhost")
