"""`tracklog import mlflow SOURCE`: bring an MLflow store's history into Tracklog.

Reads SOURCE with MLflow's client (``./mlruns``, ``file://``, ``sqlite:///``,
``postgresql://``, ``http(s)://``), produces the events to the deployment's Kafka
(TRACKLOG_KAFKA_BOOTSTRAP, TRACKLOG_EVENTS_TOPIC) and waits for the worker, asking the
query service (TRACKLOG_QUERY_ADDR). Progress goes to stderr (a rich bar on a
terminal), the summary to stdout. Run it again to resume an interrupted import: runs
recorded in the checkpoint are skipped, and whatever is sent twice is dropped by the
worker (deterministic event ids).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tracklog.contract.settings import Settings
from tracklog.deploy.cli.failures import CliFailure, ExitCode, require_extra
from tracklog.deploy.cli.reachability import require_kafka, require_query_service


class RichProgress:
    """Experiments, runs, points and artifacts with rate and ETA (runs drive the ETA)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, Any] = {}

    def start(self, totals: Any) -> None:
        self._bar.start()
        add = self._bar.add_task
        self._tasks = {
            "experiments": add("experiments", total=totals.experiments, rate=""),
            "runs": add("runs", total=totals.runs, rate=""),
            "points": add("points", total=None, rate=""),
            "artifacts": add("artifacts", total=None, rate=""),
        }

    def advance(self, **counts: int) -> None:
        for name, amount in counts.items():
            if amount:
                task = self._tasks[name]
                self._bar.advance(task, amount)
                speed = self._bar.tasks[task].speed
                rate = f"{speed:,.0f}/s" if speed else ""
                self._bar.update(task, rate=rate)

    def stage(self, what: str) -> None:
        self._bar.console.log(what)

    def finish(self) -> None:
        self._bar.stop()


def _summary_lines(summary: Any, dry_run: bool) -> list[str]:
    verb = "would import" if dry_run else "imported"
    lines = [
        f"{verb}: {summary.experiments} experiments, {summary.runs} runs "
        f"({summary.runs_unchanged} unchanged since the last import), {summary.params} params, "
        f"{summary.tags} tags, {summary.metrics} metrics with {summary.points:,} points, "
        f"{summary.artifacts} artifacts ({summary.artifact_bytes:,} bytes), "
        f"{summary.logged_models} logged models, "
        f"{summary.models} registered models with {summary.versions} versions",
    ]
    if not dry_run:
        lines.append(
            f"{summary.events:,} events in {summary.seconds:.1f} s "
            f"({summary.points_per_second:,.0f} points/s)"
        )
        moved = {m: t for m, t in summary.experiment_ids.items() if m != t}
        for mlflow_id, tracklog_id in sorted(moved.items()):
            lines.append(f"experiment {mlflow_id} is {tracklog_id} in Tracklog (its id was taken)")
        if not summary.projected:
            lines.append("warning: the worker had not applied everything yet when the wait ended")
    for skipped in summary.skipped:
        lines.append(f"skipped {skipped.where}: {skipped.reason}")
    return lines


def cmd_mlflow(args: argparse.Namespace) -> int:
    require_extra("mlflow", "`tracklog import mlflow`", ["mlflow", "rich"])
    from tracklog.mlflow.importer.importer import ImportOptions, import_mlflow
    from tracklog.mlflow.importer.source import SourceError

    settings = Settings.from_env()
    if not args.dry_run or args.verify:
        require_query_service(settings.query_addr)
        require_kafka(settings.kafka)
    options = ImportOptions(
        source=args.source,
        kafka=settings.kafka,
        query_addr=settings.query_addr,
        experiments=tuple(args.experiment or ()),
        registry=args.registry,
        dry_run=args.dry_run,
        keep_artifact_uris=args.keep_artifact_uris,
        artifacts=args.artifacts,
        state_dir=None if args.no_resume else Path(args.state_dir),
        fallback_artifact_root=settings.artifact_root,
    )
    progress = RichProgress() if sys.stderr.isatty() else None
    try:
        summary = import_mlflow(options, progress)
    except SourceError as error:
        raise CliFailure(
            ExitCode.NOT_FOUND, str(error), "check SOURCE and --experiment names"
        ) from error
    for line in _summary_lines(summary, args.dry_run):
        print(line)
    if args.verify and not args.dry_run:
        return _verify(options)
    return 0


def _verify(options: Any) -> int:
    from tracklog.mlflow.importer.verify import verify

    differences = verify(options)
    for line in differences:
        print(f"difference: {line}")
    print(
        "verify: "
        + ("source and Tracklog agree" if not differences else f"{len(differences)} differences")
    )
    return 0 if not differences else int(ExitCode.FAILED)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    imports = sub.add_parser("import", help="bring history from another tracker (mlflow)")
    kinds = imports.add_subparsers(dest="import_kind", required=True)
    mlflow = kinds.add_parser(
        "mlflow",
        help="an MLflow tracking store: ./mlruns, file://, sqlite:///, postgresql://, http(s)://",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mlflow.add_argument("source", metavar="SOURCE", help="MLflow tracking URI or ./mlruns path")
    mlflow.add_argument(
        "--experiment", action="append", metavar="NAME", help="only this experiment (repeatable)"
    )
    mlflow.add_argument(
        "--no-registry", dest="registry", action="store_false", help="leave the registry out"
    )
    mlflow.add_argument("--dry-run", action="store_true", help="read and count only")
    mlflow.add_argument(
        "--keep-artifact-uris",
        action="store_true",
        help="reference artifacts where MLflow keeps them instead of copying them",
    )
    mlflow.add_argument(
        "--no-artifacts", dest="artifacts", action="store_false", help="do not copy artifacts"
    )
    mlflow.add_argument(
        "--verify",
        action="store_true",
        help="compare counts and sampled histories afterwards; exit 1 on a difference",
    )
    mlflow.add_argument(
        "--state-dir",
        default=str(Path("~/.cache/tracklog/imports").expanduser()),
        help="where the resume checkpoint is kept (default: %(default)s)",
    )
    mlflow.add_argument(
        "--no-resume", action="store_true", help="ignore and keep no checkpoint (send every run)"
    )
    mlflow.set_defaults(func=cmd_mlflow)
