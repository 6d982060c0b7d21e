"""The `tracklog` command: up, ingest, query, server, demo, models, runs, experiments, doctor,
users, tokens, permissions, schema."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from tracklog.contract.settings import Settings
from tracklog.deploy.cli import access as cli_access
from tracklog.deploy.cli import dlq as cli_dlq
from tracklog.deploy.cli import doctor as cli_doctor
from tracklog.deploy.cli import imports as cli_imports
from tracklog.deploy.cli import models as cli_models
from tracklog.deploy.cli import replay as cli_replay
from tracklog.deploy.cli import schema as cli_schema
from tracklog.deploy.cli import server as cli_server
from tracklog.deploy.cli import spool as cli_spool
from tracklog.deploy.cli import status as cli_status
from tracklog.deploy.cli import tracking as cli_tracking
from tracklog.deploy.cli import up as cli_up
from tracklog.deploy.cli.failures import EXIT_CODES_HELP, report, require_extra, require_server
from tracklog.deploy.cli.reachability import require_kafka, require_query_service
from tracklog.deploy.embedded.data_dir import tracklog_version

VERBOSE_HELP = "debug logging (also kafka-python's and grpc's) and tracebacks"


def cmd_ingest(args: argparse.Namespace) -> int:
    require_server("`tracklog ingest`")
    from tracklog.ingest.worker import run_worker

    settings = Settings.from_env()
    require_kafka(settings.kafka)  # at start: one line rather than retrying in silence
    run_worker(settings)
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    require_server("`tracklog query`", "grpc_health", "grpc_reflection")
    from tracklog.query.server import serve

    serve(Settings.from_env())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tracklog.deploy.demo import run_demo

    settings = Settings.from_env()
    require_extra("demo", "`tracklog demo`", ["sklearn"])
    require_query_service(settings.query_addr)
    require_kafka(settings.kafka)
    return 0 if run_demo(settings, settings.query_addr) else 1


def _add_verbose(parser: argparse.ArgumentParser, default: object) -> None:
    """-v on the parser and every subcommand's (`tracklog runs search -v` works too)."""
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help=VERBOSE_HELP)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_verbose(child, argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracklog",
        description=__doc__,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tracklog {tracklog_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    cli_up.add_parser(sub)

    ingest = sub.add_parser("ingest", help="run the ingest worker against external services")
    ingest.set_defaults(func=cmd_ingest)
    query = sub.add_parser("query", help="run the gRPC query service against external services")
    query.set_defaults(func=cmd_query)
    demo = sub.add_parser("demo", help="train a small model, log it, print what the service says")
    demo.set_defaults(func=cmd_demo)
    cli_models.add_parser(sub)
    cli_tracking.add_parsers(sub)
    cli_status.add_parser(sub)
    cli_dlq.add_parser(sub)
    cli_spool.add_parser(sub)
    cli_replay.add_parser(sub)
    cli_schema.add_parser(sub)
    cli_server.add_parser(sub)
    cli_doctor.add_parser(sub)
    cli_imports.add_parser(sub)
    cli_access.add_parsers(sub)
    _add_verbose(parser, False)
    return parser


QUIET_LOGGERS = ("kafka", "grpc")  # their connection errors: -v shows them
# long-running services keep kafka-python's and grpc's warnings in their logs, as operators expect
SERVICE_COMMANDS = frozenset({"up", "ingest", "query"})


def configure_logging(verbose: bool, service: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet = logging.WARNING if service else logging.CRITICAL + 1
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else quiet)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)  # bad arguments: usage and exit 2
    args.argv = argv
    configure_logging(args.verbose, service=args.command in SERVICE_COMMANDS)
    try:
        return int(args.func(args))
    except (Exception, KeyboardInterrupt) as error:
        return report(error, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
