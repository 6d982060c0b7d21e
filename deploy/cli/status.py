"""`tracklog status`: scrape the ingest worker's Prometheus endpoint and print what it says.

The address is `--metrics-addr`, else TRACKLOG_METRICS_ADDR, else 127.0.0.1:9464 (the
worker serves metrics only when TRACKLOG_METRICS_ADDR is set).
"""

from __future__ import annotations

import argparse
import json
import math
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from tracklog.contract.settings import Settings
from tracklog.deploy.cli.failures import CliFailure, ExitCode, require_server
from tracklog.deploy.cli.redaction import mask_dsn

DEFAULT_METRICS_ADDR = "127.0.0.1:9464"
SCRAPE_TIMEOUT_SECONDS = 5.0


class StatusError(Exception):
    """The endpoint did not answer, or did not answer like an ingest worker."""


class WorkerUnreachable(StatusError):
    """Nothing answered at the metrics address."""


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    lag: int


@dataclass(frozen=True, slots=True)
class BatchLatency:
    batches: int
    mean_seconds: float | None
    p50_seconds: float | None
    p99_seconds: float | None


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    events_per_second: float
    points_per_second: float
    rate_window_seconds: float
    events_total: int
    points_total: int
    dead_letters_total: int
    retries: dict[str, int]
    batch_write: BatchLatency
    lag: list[PartitionLag] = field(default_factory=list)
    paused: bool = False
    pause_reason: str = ""

    @property
    def total_lag(self) -> int | None:
        """None while the worker does not know its lag (no partitions assigned yet)."""
        return sum(p.lag for p in self.lag) if self.lag else None


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Estimate a quantile from cumulative (upper bound, count) buckets, as Prometheus'
    histogram_quantile does: linear within the bucket; the +Inf bucket gives its lower bound."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in ordered:
        if count >= rank and count > below:
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower


def parse_status(text: str) -> WorkerStatus:
    """A worker's /metrics text -> WorkerStatus; StatusError if it is not a worker's."""
    from prometheus_client.parser import text_string_to_metric_families

    from tracklog.ingest.metrics import PREFIX

    values: dict[str, float] = {}
    retries: dict[str, int] = {}
    buckets: list[tuple[float, float]] = []
    lag: list[PartitionLag] = []
    reason = ""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if not s.name.startswith(PREFIX):
                continue
            name, labels = s.name.removeprefix(PREFIX), s.labels
            if name == "retries_total":
                retries[labels["stage"]] = int(s.value)
            elif name == "batch_write_seconds_bucket":
                buckets.append((float(labels["le"]), s.value))
            elif name == "lag":
                lag.append(
                    PartitionLag(s.labels["topic"], int(s.labels["partition"]), int(s.value))
                )
            elif name == "pause_info":
                reason = labels.get("reason", "")
            else:
                values[name] = s.value
    if "events_total" not in values:
        raise StatusError(f"no {PREFIX}events_total: not a Tracklog ingest worker's endpoint")
    batches = int(values.get("batch_write_seconds_count", 0))
    total_seconds = values.get("batch_write_seconds_sum", 0.0)
    return WorkerStatus(
        events_per_second=values.get("events_per_second", 0.0),
        points_per_second=values.get("points_per_second", 0.0),
        rate_window_seconds=values.get("rate_window_seconds", 0.0),
        events_total=int(values["events_total"]),
        points_total=int(values.get("points_total", 0)),
        dead_letters_total=int(values.get("dead_letters_total", 0)),
        retries=dict(sorted(retries.items())),
        batch_write=BatchLatency(
            batches=batches,
            mean_seconds=total_seconds / batches if batches else None,
            p50_seconds=bucket_quantile(0.5, buckets),
            p99_seconds=bucket_quantile(0.99, buckets),
        ),
        lag=sorted(lag, key=lambda p: (p.topic, p.partition)),
        paused=values.get("paused", 0.0) >= 1,
        pause_reason=reason,
    )


def metrics_url(address: str) -> str:
    """The URL to scrape; a worker bound to every interface is asked on the loopback."""
    host, _, port = address.rpartition(":")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host in ("::", "[::]"):
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/metrics"


def scrape(address: str, timeout: float = SCRAPE_TIMEOUT_SECONDS) -> WorkerStatus:
    url = metrics_url(address)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = response.read().decode("utf-8")
    except (OSError, ValueError) as exc:  # URLError, HTTPError, refused, timeout, bad URL
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        message = f"no answer from the ingest worker's metrics at {url}: {reason}"
        raise WorkerUnreachable(message) from exc
    try:
        return parse_status(text)
    except (ValueError, KeyError) as exc:
        raise StatusError(f"{url} answered something unreadable: {exc}") from exc


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.1f} ms"


def render(status: WorkerStatus, address: str) -> str:
    b = status.batch_write
    window = f" (last {status.rate_window_seconds:g} s)" if status.rate_window_seconds else ""
    state = f"PAUSED: {status.pause_reason or 'a store fails'}" if status.paused else "consuming"
    retries = ", ".join(f"{stage} {n:,}" for stage, n in status.retries.items()) or "none"
    total_lag = status.total_lag
    lines = [
        f"ingest worker at {address}",
        f"  state          {state}",
        f"  events/s       {status.events_per_second:,.1f}{window}",
        f"  points/s       {status.points_per_second:,.1f}{window}",
        f"  events         {status.events_total:,}",
        f"  points         {status.points_total:,}",
        f"  batch write    p50 ~{_ms(b.p50_seconds)}, p99 ~{_ms(b.p99_seconds)}, "
        f"mean {_ms(b.mean_seconds)} over {b.batches:,} batches",
        f"  dead letters   {status.dead_letters_total:,}",
        f"  retries        {retries}",
        f"  lag            {'unknown' if total_lag is None else f'{total_lag:,} records'}",
    ]
    lines += [f"    {p.topic}[{p.partition}]  {p.lag:,}" for p in status.lag]
    return "\n".join(lines)


def as_json(status: WorkerStatus, address: str) -> str:
    return json.dumps({"address": address, **asdict(status), "total_lag": status.total_lag})


def cmd_status(args: argparse.Namespace) -> int:
    require_server("`tracklog status`")
    address = args.metrics_addr or Settings.from_env().metrics_addr or DEFAULT_METRICS_ADDR
    shown = mask_dsn(address)  # an address with credentials is printed without them
    try:
        status = scrape(address)
    except WorkerUnreachable as exc:
        raise CliFailure(
            ExitCode.UNREACHABLE,
            str(exc).replace(address, shown),
            "start the stack with `tracklog up`, or pass --metrics-addr / set "
            "TRACKLOG_METRICS_ADDR to where the worker serves metrics",
        ) from exc
    except StatusError as exc:
        message = str(exc).replace(address, shown)
        raise CliFailure(ExitCode.FAILED, message, "is --metrics-addr a worker's?") from exc
    print(as_json(status, shown) if args.json else render(status, shown))
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser("status", help="print the ingest worker's metrics (rates, lag, ...)")
    status.add_argument(
        "--metrics-addr",
        default="",
        help=f"the worker's metrics host:port (TRACKLOG_METRICS_ADDR, else {DEFAULT_METRICS_ADDR})",
    )
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(func=cmd_status)
