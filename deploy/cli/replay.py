"""`tracklog replay --yes [--archive ROOT]`: rebuild ClickHouse and Postgres from the event
archive (from scratch), then catch up from Kafka. Stop the live worker first."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tracklog.contract.settings import Settings

REFUSAL = (
    "tracklog replay EMPTIES both read models (ClickHouse metric_points and every Tracklog "
    "table in Postgres) and rebuilds them from the event archive, then catches up from Kafka.\n"
    "Stop the live ingest worker first, then run it again with --yes."
)


def add_parser(sub: Any) -> None:
    replay = sub.add_parser(
        "replay",
        help="rebuild the read models from the event archive, then catch up from Kafka",
        description=__doc__,
    )
    replay.add_argument(
        "--archive",
        default=None,
        help="archive root: a directory or s3://bucket/prefix (default TRACKLOG_ARCHIVE_ROOT)",
    )
    replay.add_argument(
        "--yes", action="store_true", help="confirm: the read models are emptied first"
    )
    replay.add_argument(
        "--data-dir",
        default=None,
        help="rebuild the embedded stack's data directory (stop `tracklog up` first): its "
        "Postgres, chDB and archive/; nothing is read from Kafka (the embedded broker keeps "
        "no events)",
    )
    replay.add_argument(
        "--no-catch-up", action="store_true", help="stop after the archive (no Kafka)"
    )
    replay.add_argument(
        "--catch-up-timeout",
        type=float,
        default=None,
        help="give up catching up from Kafka after this many seconds (default: no limit)",
    )
    replay.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.data_dir and args.yes:
        return replay_data_dir(settings, Path(args.data_dir), args)
    root = args.archive or settings.archive_root
    if not root:
        print("no archive: pass --archive ROOT or set TRACKLOG_ARCHIVE_ROOT", file=sys.stderr)
        return 2
    if not args.yes:
        print(REFUSAL, file=sys.stderr)
        return 2
    from tracklog.contract.read_model.clickhouse_client import connect

    return replay(settings, connect(settings.clickhouse_dsn), root, args)


def replay_data_dir(settings: Settings, data_dir: Path, args: argparse.Namespace) -> int:
    """The embedded stack's layout (deploy/embedded/stack.py), without its broker."""
    from tracklog.contract.read_model.clickhouse_client import connect
    from tracklog.deploy.cli.up import claim_data_dir
    from tracklog.deploy.embedded.postgres import EmbeddedPostgres
    from tracklog.deploy.embedded.stack import ROOTS_VARIABLE

    if not (data_dir / "pgdata").is_dir():
        print(f"{data_dir} holds no `tracklog up` data (no pgdata/)", file=sys.stderr)
        return 2
    claim = claim_data_dir(data_dir)  # refused while `tracklog up` runs on it
    # the stack's stance on artifact locations (any, unless roots are listed), so a rebuild
    # applies what its worker applied
    any_location = not os.environ.get(ROOTS_VARIABLE, "").strip()
    if any_location:
        os.environ[ROOTS_VARIABLE] = "*"
    postgres = EmbeddedPostgres(data_dir / "pgdata").start()
    try:
        embedded = replace(
            settings,
            postgres_dsn=postgres.dsn("tracklog"),
            clickhouse_dsn=f"chdb://{data_dir.resolve() / 'chdb'}",
        )
        root = args.archive or str(data_dir.resolve() / "archive")
        offline = argparse.Namespace(**{**vars(args), "no_catch_up": True, "offline": True})
        return replay(embedded, connect(embedded.clickhouse_dsn), root, offline)
    finally:
        if any_location:
            os.environ.pop(ROOTS_VARIABLE, None)
        postgres.stop()
        claim.release()


def replay(settings: Settings, clickhouse: Any, root: str, args: argparse.Namespace) -> int:
    from tracklog.deploy.cli.progress import ProgressBar
    from tracklog.ingest.archive import rebuild, rebuild_kafka
    from tracklog.ingest.worker import catch_up

    err = sys.stderr
    # before the wipe: where the models were (offline: no dead letters can be sent, none are)
    offline = getattr(args, "offline", False)
    live = None if offline else rebuild_kafka.live_positions(settings)
    emptied = rebuild.wipe_read_models(settings, clickhouse)
    print(f"emptied {len(emptied)} tables: {', '.join(emptied)}", file=err)
    bars: list[ProgressBar] = []

    def start(what: str) -> Callable[[int], None]:
        def begin(total: int) -> None:
            print(what, file=err)
            bars.append(ProgressBar(total, stream=err))

        return begin

    def progress(done: int, points: int) -> None:
        bars[-1].update(done, points)

    report = rebuild.rebuild_from_archive(
        settings,
        clickhouse,
        root,
        live=live,
        on_start=start(f"rebuilding from {root}"),
        progress=progress,
    )
    bars[-1].close(report.events, report.points)
    rate = report.points / report.seconds if report.seconds else 0.0
    print(
        f"archive: {report.events:,} events, {report.points:,} points from {report.files} files "
        f"({report.partitions} partitions) in {report.seconds:.1f} s ({rate:,.0f} points/s); "
        f"{len(report.gaps)} gaps",
        file=err,
    )
    for gap in report.gaps[:20]:
        print(f"  missing: {gap.log}[{gap.partition}] offsets {gap.first}-{gap.last}", file=err)
    if report.gaps:  # the exit status says it: the rebuilt models lack these events
        print("the archive misses the ranges above: the rebuilt models lack them", file=err)
    done = 1 if report.gaps else 0
    if args.no_catch_up or live is None:
        return done
    bars.clear()
    events, points = rebuild_kafka.replay_kafka(
        settings,
        clickhouse,
        live,
        on_start=start("from Kafka, up to where the read models were (no dead letters)"),
        progress=progress,
    )
    if bars:
        bars[-1].close(events, points)
    print(f"from Kafka up to the live positions: {events:,} events, {points:,} points", file=err)

    def lag(remaining: int) -> None:
        err.write(f"\rcatching up from Kafka: {remaining:,} records behind   ")
        err.flush()

    events, points = catch_up(settings, clickhouse, timeout=args.catch_up_timeout, on_lag=lag)
    print(f"\ncaught up from Kafka: {events:,} new events, {points:,} points", file=err)
    return done
