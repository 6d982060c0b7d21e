"""`tracklog models ...`: the registry from the command line, via the gRPC service
(address from TRACKLOG_QUERY_ADDR)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime

from tracklog.client.registry import RegistryClient


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain left-aligned text table."""
    cells = [[str(h) for h in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def cmd_list(args: argparse.Namespace) -> int:
    rows: list[list[object]] = []
    with RegistryClient() as client:
        token = ""
        while True:
            page = client.search_registered_models(args.filter, max_results=1000, page_token=token)
            for m in page:
                latest = max((v.version for v in m.latest_versions), default="-")
                aliases = ", ".join(f"{a}->v{v}" for a, v in sorted(m.aliases.items()))
                rows.append([m.name, latest, aliases or "-", _time(m.last_updated_timestamp)])
            token = page.token
            if not token:
                break
    print(table(["NAME", "LATEST VERSION", "ALIASES", "LAST UPDATED (UTC)"], rows))
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    rows: list[list[object]] = []
    with RegistryClient() as client:
        client.get_registered_model(args.name)  # NotFound names an unknown model
        quoted = args.name.replace("'", "\\'")
        token = ""
        while True:
            page = client.search_model_versions(
                f"name = '{quoted}'", max_results=1000, page_token=token
            )
            for v in page:
                aliases = ", ".join(v.aliases) or "-"
                rows.append(
                    [v.version, v.current_stage, v.status, aliases, v.run_id or "-", v.source]
                )
            token = page.token
            if not token:
                break
    print(table(["VERSION", "STAGE", "STATUS", "ALIASES", "RUN ID", "SOURCE"], rows))
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a `models` subcommand (failures are explained by `cli_failures`)."""
    return int(args.models_func(args))


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    models = sub.add_parser("models", help="the model registry (via TRACKLOG_QUERY_ADDR)")
    models.set_defaults(func=run)
    commands = models.add_subparsers(dest="models_command", required=True)
    listing = commands.add_parser("list", help="registered models")
    listing.add_argument("--filter", default="", help="e.g. \"name LIKE 'fraud%%'\"")
    listing.set_defaults(models_func=cmd_list)
    versions = commands.add_parser("versions", help="the versions of one model")
    versions.add_argument("name")
    versions.set_defaults(models_func=cmd_versions)
