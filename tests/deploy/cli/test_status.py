"""`tracklog status` against a served IngestMetrics (no pipeline needed), its quantile
estimate, and the unreachable case."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, start_http_server

from tracklog.deploy.cli.main import main
from tracklog.deploy.cli.status import bucket_quantile, metrics_url
from tracklog.deploy.processes import free_port
from tracklog.ingest.metrics import IngestMetrics, MetricsServer


@pytest.fixture
def served() -> Iterator[tuple[IngestMetrics, MetricsServer]]:
    metrics = IngestMetrics()
    server = metrics.serve("127.0.0.1:0")
    yield metrics, server
    server.close()


def test_status_prints_what_the_worker_reports(
    served: tuple[IngestMetrics, MetricsServer], capsys: pytest.CaptureFixture[str]
) -> None:
    metrics, server = served
    for seconds in (0.004, 0.004, 0.004, 0.04):
        metrics.batch_written(events=1000, points=25_000, seconds=seconds)
    metrics.dead_lettered(3)
    metrics.retried("clickhouse")
    metrics.retried("postgres")
    metrics.retried("postgres")
    metrics.set_lag({("tracklog.events", 1): 1500, ("tracklog.events", 0): 20})
    metrics.set_paused(True, "clickhouse: Code 241, memory limit exceeded")
    assert main(["status", "--metrics-addr", f"127.0.0.1:{server.port}"]) == 0
    out = capsys.readouterr().out
    print(out)
    assert "PAUSED: clickhouse: Code 241, memory limit exceeded" in out
    assert "events         4,000" in out
    assert "points         100,000" in out
    assert "dead letters   3" in out
    assert "retries        clickhouse 1, postgres 2" in out
    assert "lag            1,520 records" in out
    assert out.index("tracklog.events[0]  20") < out.index("tracklog.events[1]  1,500")
    # 3 of 4 batches in (2.5 ms, 5 ms], one in (25 ms, 50 ms]: p50 interpolated in the first.
    assert "p50 ~4.2 ms" in out
    assert "p99 ~49.0 ms" in out
    assert "mean 13.0 ms over 4 batches" in out
    assert "(last 10 s)" in out


def test_status_json(
    served: tuple[IngestMetrics, MetricsServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    metrics, server = served
    metrics.batch_written(events=10, points=70, seconds=0.3)
    monkeypatch.setenv("TRACKLOG_METRICS_ADDR", f"127.0.0.1:{server.port}")  # no flag: env
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["events_total"] == 10
    assert status["points_total"] == 70
    assert status["events_per_second"] > 0
    assert status["paused"] is False
    assert status["pause_reason"] == ""
    assert status["retries"] == {}
    assert status["lag"] == []
    assert status["total_lag"] is None  # not known yet
    assert status["batch_write"]["batches"] == 1
    assert status["batch_write"]["mean_seconds"] == pytest.approx(0.3)
    assert 0.25 < status["batch_write"]["p50_seconds"] <= 0.5


def test_status_fails_clearly_when_nothing_answers(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert main(["status", "--metrics-addr", f"127.0.0.1:{port}"]) == 3  # not reachable
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"no answer from the ingest worker's metrics at http://127.0.0.1:{port}/metrics" in (
        captured.err
    )


def test_bucket_quantile_interpolates_like_prometheus() -> None:
    inf = float("inf")
    buckets = [(0.1, 0.0), (0.2, 50.0), (0.4, 100.0), (inf, 100.0)]
    assert bucket_quantile(0.5, buckets) == pytest.approx(0.2)
    assert bucket_quantile(0.25, buckets) == pytest.approx(0.15)
    assert bucket_quantile(0.75, buckets) == pytest.approx(0.3)
    assert bucket_quantile(0.99, [(1.0, 0.0), (inf, 5.0)]) == 1.0  # beyond the last bound
    assert bucket_quantile(0.5, [(1.0, 0.0), (inf, 0.0)]) is None  # no observation
    assert bucket_quantile(0.5, []) is None


def test_metrics_url() -> None:
    assert metrics_url("127.0.0.1:9464") == "http://127.0.0.1:9464/metrics"
    assert metrics_url("0.0.0.0:9464") == "http://127.0.0.1:9464/metrics"
    assert metrics_url(":9464") == "http://127.0.0.1:9464/metrics"
    assert metrics_url("[::1]:9464") == "http://[::1]:9464/metrics"
    assert metrics_url("::1:9464") == "http://[::1]:9464/metrics"


def test_status_refuses_an_endpoint_that_is_not_a_worker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, thread = start_http_server(0, addr="127.0.0.1", registry=CollectorRegistry())
    try:
        assert main(["status", "--metrics-addr", f"127.0.0.1:{server.server_port}"]) == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert "not a Tracklog ingest worker's endpoint" in capsys.readouterr().err
