"""`tracklog dlq list` and `tracklog dlq replay`: the dead-letter topic from the command line.

The broker and topic come from TRACKLOG_KAFKA_BOOTSTRAP / TRACKLOG_EVENTS_TOPIC (the
dead-letter topic is `<events topic>.dlq`); replay records what it sent in
Postgres (TRACKLOG_POSTGRES_DSN).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tracklog.contract.settings import Settings
from tracklog.deploy.cli.failures import require_server
from tracklog.deploy.cli.models import table
from tracklog.deploy.cli.reachability import require_kafka

if TYPE_CHECKING:
    from tracklog.ingest.dead_letters.reader import DeadLetter

REPLAY_HELP = """\
Send dead letters back to the events topic (original key and bytes, acks=all) after
whatever rejected them was fixed, e.g. a worker that understands a new payload was
deployed. Each dead letter is replayed at most once (recorded in Postgres). A copy
that is still bad lands in the dead-letter topic again with the same reason; such a
re-rejected copy is skipped unless --retry-replays is given (after a further fix).
The worker skips an event whose event_id it already applied. Events refused by a
conflict ('param conflict', 'experiment name conflict') are not counted as applied:
replayed, what they stored before stays, and the refused part takes effect once the
conflict is gone (e.g. the name was freed, the stored param deleted).
"""


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _clip(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "..."


def _key(key: bytes | None) -> str:
    return "-" if key is None else _clip(key.decode("utf-8", "backslashreplace"), 40)


def _source(letter: DeadLetter) -> str:
    return f"{letter.source_topic}/{letter.source_partition}/{letter.source_offset}"


def _position(text: str) -> tuple[int, int]:
    partition, sep, offset = text.partition(":")
    try:
        if not sep:
            raise ValueError(text)
        return int(partition), int(offset)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PARTITION:OFFSET, got {text!r}") from None


def cmd_list(args: argparse.Namespace) -> int:
    require_server("`tracklog dlq list`")
    from tracklog.ingest.dead_letters.reader import read_dead_letters

    kafka = Settings.from_env().kafka
    require_kafka(kafka)
    dlq = read_dead_letters(kafka)
    letters = [letter for letter in dlq.letters if letter.matches(args.reason)]
    if args.limit is not None:
        letters = letters[: args.limit]
    if args.json:
        print(json.dumps([letter.as_json() for letter in letters], indent=2))
        return 0
    rows = [
        [
            f"{x.partition}:{x.offset}",
            _time(x.timestamp_ms),
            _clip(x.reason, 60),
            _clip(x.detail, 60) or "-",
            _source(x),
            _key(x.key),
            x.size,
        ]
        for x in letters
    ]
    headers = ["DLQ POS", "WHEN (UTC)", "REASON", "DETAIL", "SOURCE", "KEY", "SIZE"]
    print(table(headers, rows))
    print(f"{len(letters)} of {len(dlq.letters)} dead letters in {dlq.topic}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    require_server("`tracklog dlq replay`")
    from tracklog.ingest.dead_letters.replay import replay

    settings = Settings.from_env()
    require_kafka(settings.kafka)
    report = replay(
        settings,
        reason=args.reason,
        positions=set(args.offset) if args.offset else None,
        dry_run=args.dry_run,
        retry_replays=args.retry_replays,
    )
    verb = "would replay" if report.dry_run else "replayed"
    for r in report.replayed:
        x = r.letter
        target = "" if r.partition is None else f" -> partition {r.partition} offset {r.offset}"
        print(f"{verb} {x.partition}:{x.offset} ({_clip(x.reason, 60)}){target}")
    print(
        f"dead letters: {report.dead_letters}, matching: {report.matching}, "
        f"{verb}: {len(report.replayed)}, already replayed: {report.already_replayed}, "
        f"rejected copies skipped: {report.replays_of_replays}"
        + (f", truncated (not replayable): {report.truncated}" if report.truncated else "")
    )
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = sub.add_parser("dlq", help="list and replay the dead-letter topic")
    commands = dlq.add_subparsers(dest="dlq_command", required=True)

    listing = commands.add_parser("list", help="print the dead letters, oldest first")
    listing.add_argument(
        "--reason", metavar="TEXT", help="only reasons containing TEXT (case-insensitive)"
    )
    listing.add_argument("--limit", type=int, metavar="N", help="print at most N dead letters")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(func=cmd_list)

    again = commands.add_parser(
        "replay", help="send dead letters back to the events topic", description=REPLAY_HELP
    )
    again.add_argument(
        "--reason", metavar="TEXT", help="only reasons containing TEXT (case-insensitive)"
    )
    again.add_argument(
        "--offset",
        type=_position,
        action="append",
        metavar="PARTITION:OFFSET",
        help="only this dead letter (as `dlq list` prints it); repeatable",
    )
    again.add_argument("--dry-run", action="store_true", help="print what would be replayed")
    again.add_argument(
        "--retry-replays",
        action="store_true",
        help="also replay copies that were rejected again (each at most once)",
    )
    again.set_defaults(func=cmd_replay)
