"""`tracklog spool list` and `tracklog spool resend`: events Kafka refused for good.

The SDK moves an event Kafka refuses for good (too large for the topic, invalid) out of
its disk spool into ``<spool dir>/quarantine/`` so that the events behind it are sent
(`tracklog.spool.quarantine`). `list` shows those files and why each was refused;
`resend`, run after the cause is fixed (for example a larger ``max.message.bytes`` on
the topic with TRACKLOG_MAX_EVENT_BYTES to match), produces them to the configured
events topic (acks=all) and renames each acknowledged file to ``.resent`` (kept). The
worker drops an event it already applied, so resending twice changes nothing. Events the
SDK kept back for their age (older than TRACKLOG_SPOOL_MAX_AGE_DAYS) are resent the same
way, with a note: past the worker's dedup horizon an event already applied is applied again
and its metric points are stored twice.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaProducer

from tracklog.contract.settings import Settings, SpoolSettings
from tracklog.deploy.cli.models import table
from tracklog.deploy.cli.reachability import require_kafka
from tracklog.spool.quarantine import (
    QuarantinedRecord,
    TooOldToSend,
    listing,
    mark_resent,
    read,
)
from tracklog.spool.spooling_sink import spool_target
from tracklog.v1 import events_pb2 as pb


def _spool_root(args: argparse.Namespace) -> Path | None:
    if args.dir:
        return Path(args.dir).expanduser()
    return SpoolSettings.from_env().directory


def _event(record: QuarantinedRecord) -> str:
    """What the event is, when its bytes still decode ('undecodable' otherwise)."""
    try:
        envelope = pb.Envelope.FromString(record.value)
    except Exception:
        return "undecodable"
    return f"{envelope.WhichOneof('payload') or '?'} of {envelope.aggregate_id}"


def _when(record: QuarantinedRecord) -> str:
    return datetime.fromtimestamp(record.quarantined_at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def cmd_list(args: argparse.Namespace) -> int:
    root = _spool_root(args)
    if root is None:
        print("the spool is off (TRACKLOG_SPOOL_DIR=off): nothing is quarantined")
        return 0
    records = list(listing(root, include_resent=args.all))
    if args.json:
        for r in records:
            row = {
                "file": str(r.path),
                "quarantined_at": _when(r),
                "reason": r.reason,
                "bytes": len(r.value),
                "points": r.points,
                "event": _event(r),
                "target": r.target,
                "resent": r.resent,
            }
            print(json.dumps(row))
        return 0
    rows = [
        [r.path.name, _when(r), f"{len(r.value):,}", str(r.points), _event(r), r.reason]
        for r in records
    ]
    if rows:
        print(table(["file", "quarantined (UTC)", "bytes", "points", "event", "reason"], rows))
    print(f"{len(records)} quarantined events in {root / 'quarantine'}")
    return 0


def cmd_resend(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    root = _spool_root(args)
    if args.files:
        records = [read(Path(f)) for f in args.files]
    elif root is not None:
        records = list(listing(root))
    else:
        records = []
    if not records:
        print("nothing to resend")
        return 0
    aged = [r for r in records if r.reason.startswith(TooOldToSend.__name__)]
    if aged:
        print(
            f"note: {len(aged)} events were kept back for their age (TRACKLOG_SPOOL_MAX_AGE_DAYS);"
            " past the worker's dedup horizon (TRACKLOG_DEDUP_HORIZON_DAYS) one already applied"
            " stores its metric points twice"
        )
    target = spool_target(settings.kafka)
    elsewhere = [r for r in records if r.target != target]
    if elsewhere and not args.force:
        print(
            f"{len(elsewhere)} events were meant for another broker or topic "
            f"({elsewhere[0].target!r}, configured: {target!r}); pass --force to send them "
            "to the configured one"
        )
        return 1
    require_kafka(settings.kafka)
    producer = KafkaProducer(
        **settings.kafka.client_options(),
        client_id="tracklog-spool-resend",
        acks="all",
        max_request_size=settings.kafka.max_event_bytes,
    )
    failed = 0
    try:
        for record in records:
            try:
                future = producer.send(
                    settings.kafka.events_topic, key=record.key, value=record.value
                )
                meta = future.get(timeout=args.timeout)
            except Exception as error:
                failed += 1
                print(f"{record.path.name}: still refused ({type(error).__name__}: {error})")
                continue
            mark_resent(record)
            print(f"{record.path.name}: sent to partition {meta.partition} offset {meta.offset}")
    finally:
        producer.close(timeout=10)
    print(f"resent {len(records) - failed} of {len(records)} events")
    return 1 if failed else 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    spool = sub.add_parser("spool", help="events Kafka refused for good (the SDK's quarantine)")
    commands = spool.add_subparsers(dest="spool_command", required=True)
    listed = commands.add_parser("list", help="list quarantined events and why")
    listed.add_argument("--dir", help="the spool directory (default TRACKLOG_SPOOL_DIR)")
    listed.add_argument("--all", action="store_true", help="also those already resent")
    listed.add_argument("--json", action="store_true", help="one JSON object per line")
    listed.set_defaults(func=cmd_list)
    resend = commands.add_parser("resend", help="send quarantined events again after a fix")
    resend.add_argument("files", nargs="*", help="quarantine files (default: all of them)")
    resend.add_argument("--dir", help="the spool directory (default TRACKLOG_SPOOL_DIR)")
    resend.add_argument("--force", action="store_true", help="send to the configured topic")
    resend.add_argument("--timeout", type=float, default=30.0, help="seconds per event")
    resend.set_defaults(func=cmd_resend)
