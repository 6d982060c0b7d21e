"""`tracklog runs ...` and `tracklog experiments ...`: common reads from the command line,
via the gRPC query service (address from TRACKLOG_QUERY_ADDR), printed as tables."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime

from tracklog.client.entities import Run
from tracklog.client.tracklog_client import TracklogClient
from tracklog.deploy.cli.models import table


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _all_experiment_ids(client: TracklogClient) -> list[str]:
    ids: list[str] = []
    token: str | None = None
    while True:
        page = client.search_experiments(max_results=1000, page_token=token)
        ids += [e.experiment_id for e in page]
        token = page.token
        if not token:
            return ids


def _short(values: dict[str, float] | dict[str, str], limit: int = 3) -> str:
    items = [
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(values.items())
    ]
    more = f" (+{len(items) - limit})" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more or "-"


def cmd_runs_search(args: argparse.Namespace) -> int:
    with TracklogClient() as client:
        ids = args.experiment_id or _all_experiment_ids(client)
        runs: Sequence[Run] = (
            client.search_runs(
                ids,
                filter_string=args.filter,
                max_results=args.max_results,
                order_by=args.order_by or None,
            )
            if ids
            else []
        )
    rows = [
        [
            r.info.run_id,
            r.info.run_name,
            r.info.status,
            _time(r.info.start_time_ms),
            _short(dict(r.data.metrics)),
            _short(dict(r.data.params)),
        ]
        for r in runs
    ]
    print(table(["RUN ID", "NAME", "STATUS", "START (UTC)", "METRICS", "PARAMS"], rows))
    return 0


def cmd_runs_get(args: argparse.Namespace) -> int:
    with TracklogClient() as client:
        run = client.get_run(args.run_id)
    info = run.info
    fields = [
        ["run_id", info.run_id],
        ["name", info.run_name],
        ["experiment_id", info.experiment_id],
        ["status", info.status],
        ["lifecycle_stage", info.lifecycle_stage],
        ["start_time (UTC)", _time(info.start_time_ms)],
        ["end_time (UTC)", _time(info.end_time_ms)],
        ["artifact_uri", info.artifact_uri or "-"],
    ]
    print(table(["FIELD", "VALUE"], fields))
    for title, values in (
        ("METRIC", run.data.metrics),
        ("PARAM", run.data.params),
        ("TAG", run.data.tags),
    ):
        if values:
            print()
            print(table([title, "VALUE"], [[k, v] for k, v in sorted(values.items())]))
    if run.inputs:
        print()
        rows = [[d.name, d.digest, d.context or "-", d.source_type or "-"] for d in run.inputs]
        print(table(["DATASET", "DIGEST", "CONTEXT", "SOURCE TYPE"], rows))
    return 0


def cmd_experiments_list(args: argparse.Namespace) -> int:
    rows: list[list[object]] = []
    with TracklogClient() as client:
        token: str | None = None
        while True:
            page = client.search_experiments(
                view_type=args.view.upper(),
                max_results=1000,
                order_by=["creation_time ASC"],
                page_token=token,
            )
            rows += [
                [e.experiment_id, e.name, e.lifecycle_stage, _time(e.creation_time)] for e in page
            ]
            token = page.token
            if not token:
                break
    print(table(["EXPERIMENT ID", "NAME", "STAGE", "CREATED (UTC)"], rows))
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a `runs` / `experiments` subcommand (failures are explained by `cli_failures`)."""
    return int(args.tracking_func(args))


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    runs = sub.add_parser("runs", help="search and show runs (via TRACKLOG_QUERY_ADDR)")
    runs.set_defaults(func=run)
    commands = runs.add_subparsers(dest="runs_command", required=True)
    search = commands.add_parser("search", help="runs matching a filter, as a table")
    search.add_argument(
        "--experiment-id", action="append", help="repeatable; default: every active experiment"
    )
    search.add_argument("--filter", default="", help='e.g. "metrics.acc > 0.9"')
    search.add_argument("--order-by", action="append", help="e.g. 'metrics.acc DESC'")
    search.add_argument("--max-results", type=int, default=100)
    search.set_defaults(tracking_func=cmd_runs_search)
    get = commands.add_parser("get", help="one run: info, metrics, params, tags, inputs")
    get.add_argument("run_id")
    get.set_defaults(tracking_func=cmd_runs_get)

    experiments = sub.add_parser("experiments", help="experiments (via TRACKLOG_QUERY_ADDR)")
    experiments.set_defaults(func=run)
    ecommands = experiments.add_subparsers(dest="experiments_command", required=True)
    listing = ecommands.add_parser("list", help="experiments, oldest first")
    listing.add_argument(
        "--view", choices=["active_only", "deleted_only", "all"], default="active_only"
    )
    listing.set_defaults(tracking_func=cmd_experiments_list)
