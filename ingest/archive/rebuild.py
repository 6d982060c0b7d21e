"""`tracklog replay`: rebuild both read models from scratch out of the event archive, then
catch up from Kafka.

1. wipe: empty ClickHouse's metric_points (on a cluster, every replica's
   metric_points_local: truncating the Distributed table leaves the shards' data)
   and every Postgres table the migrations created (tracking rows and applied event
   ids included), except the migrations' own bookkeeping and the record of dead
   letters already replayed (an operator's action, not derived from the events);
2. rebuild: read the archive per partition in offset order, project chunks of
   records (decoded and projected as the worker does, artifact locations checked, see
   ingest/locations.py) and write them through the worker's BatchWriter, without dead
   letters (those were sent when the events were first consumed);
3. catch up: run a Worker, which resumes each partition after what the stores
   now hold, until its lag is 0 (`catch_up` in ingest/worker.py).

The live worker must be stopped meanwhile: it would write into half-empty models.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from tracklog.contract.read_model.clickhouse_schema import TABLES, local_table, truncate_statements
from tracklog.contract.read_model.postgres_schema import MIGRATIONS
from tracklog.contract.settings import ArtifactRootSettings, Settings
from tracklog.contract.topics import Partition, topic_of
from tracklog.ingest.archive.order import oldest_first
from tracklog.ingest.archive.reader import ArchiveReader, Gap, covered
from tracklog.ingest.archive.storage import open_storage
from tracklog.ingest.dead_letters.poison import write_through
from tracklog.ingest.dead_letters.producer import DeadLetters
from tracklog.ingest.decode.authority import TopicAuthority
from tracklog.ingest.locations import project_checked
from tracklog.ingest.records import Record
from tracklog.ingest.writers.batch import BatchWriter

log = logging.getLogger(__name__)

CHUNK_RECORDS = 5_000
# kept: the migrations' bookkeeping, an operator's replays, and the registry history the
# events topic holds (ingest/decode/authority.py), which a rebuild must judge as live did
KEPT_TABLES = frozenset({"schema_migrations", "dead_letter_replays", "registry_history_bounds"})
_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)

Progress = Callable[[int, int], None]  # (records done, points written so far)


@dataclass(slots=True)
class RebuildReport:
    events: int = 0  # archived records written through the batch writer
    points: int = 0
    files: int = 0
    partitions: int = 0
    expected: int = 0  # offsets the archive's file names cover
    dead_letters: int = 0  # sent for archived records the live models never applied
    gaps: list[Gap] = field(default_factory=list)
    seconds: float = 0.0
    caught_up_events: int = 0  # consumed from Kafka after the archive
    caught_up_points: int = 0


def read_model_tables() -> list[str]:
    """The Postgres tables the migrations create that a rebuild empties."""
    names = {m[1] for ddl in MIGRATIONS for m in _CREATE_TABLE.finditer(ddl)}
    return sorted(names - KEPT_TABLES)


def wipe_read_models(settings: Settings, clickhouse: Any) -> list[str]:
    """Empty both read models (creating their schemas if missing); the tables emptied."""
    writer = BatchWriter(settings, clickhouse)
    try:
        writer.migrate()
    finally:
        writer.close()
    database, cluster = settings.clickhouse_database, settings.clickhouse_cluster
    for statement in truncate_statements(database, cluster):
        clickhouse.command(statement)
    # on a cluster the local tables hold the rows (the Distributed ones hold none)
    emptied = [f"{database}.{local_table(t.name) if cluster else t.name}" for t in TABLES]
    with psycopg.connect(settings.postgres_dsn) as conn:
        existing = {
            str(row[0])
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).fetchall()
        }
        tables = [t for t in read_model_tables() if t in existing]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
    log.info("emptied %s and Postgres tables %s", ", ".join(emptied), tables)
    return [*emptied, *tables]


def rebuild_from_archive(
    settings: Settings,
    clickhouse: Any,
    root: str,
    *,
    live: dict[Partition, int] | None = None,
    chunk_records: int = CHUNK_RECORDS,
    on_start: Callable[[int], None] | None = None,
    progress: Progress | None = None,
) -> RebuildReport:
    """Write every archived record of the events and registry topics into the (emptied)
    read models, judged by topic as the live worker judges them (ingest/decode/authority.py:
    registry events on the events topic count only as recorded history).

    Records at or below `live` (where the models were before the wipe) are written
    without dead letters; archived records the live models never applied (a worker
    stopped between archiving and writing) get theirs now. Without `live`, none.
    """
    started = time.perf_counter()
    reader = ArchiveReader(open_storage(root))
    topics = {settings.kafka.events_topic, settings.kafka.registry_topic}
    all_files = reader.files()
    files = {tp: fs for tp, fs in all_files.items() if topic_of(tp[0]) in topics}
    for other in sorted({lg for lg, _ in all_files} - {lg for lg, _ in files}):
        log.warning("archive holds %s, not of topics %s: left out", other, sorted(topics))
    report = RebuildReport(partitions=len(files))
    report.expected = sum(covered(fs) for fs in files.values())
    if on_start is not None:
        on_start(report.expected)
    writers = _Writers(settings, clickhouse, live)
    try:
        chunk: list[Record] = []
        for tp in oldest_first(reader.storage, files):  # topic incarnations in time order
            partition_files = files[tp]
            for record in reader.partition_records(partition_files):
                chunk.append(record)
                if len(chunk) >= chunk_records:
                    writers.write(chunk, report, progress)
                    chunk = []
        if chunk:
            writers.write(chunk, report, progress)
    finally:
        writers.close()
    report.files = reader.files_read
    report.gaps = list(reader.gaps)
    report.seconds = time.perf_counter() - started
    return report


class _Writers:
    """The batch writer without dead letters, and one with them for records beyond `live`."""

    def __init__(
        self, settings: Settings, clickhouse: Any, live: dict[Partition, int] | None
    ) -> None:
        self._settings = settings
        self._clickhouse = clickhouse
        self._live = live
        self.quiet = BatchWriter(settings, clickhouse)
        self._loud: BatchWriter | None = None
        self._authority = TopicAuthority.of(settings.kafka, self.quiet.postgres.registry_history())
        self._roots = ArtifactRootSettings.from_env(root=settings.artifact_root)

    def write(self, chunk: list[Record], report: RebuildReport, progress: Progress | None) -> None:
        live = self._live
        seen = [r for r in chunk if live is None or r.position.offset <= _at(live, r)]
        new = [r for r in chunk if live is not None and r.position.offset > _at(live, r)]
        largest = self._settings.kafka.max_event_bytes
        authority, roots = self._authority, self._roots
        quiet = (
            write_through(self.quiet, project_checked(seen, largest, authority, roots))
            if seen
            else None
        )
        points = 0 if quiet is None else quiet.points
        if new:
            if self._loud is None:
                letters = DeadLetters(self._settings.kafka)
                self._loud = BatchWriter(self._settings, self._clickhouse, dead_letters=letters)
            written = write_through(self._loud, project_checked(new, largest, authority, roots))
            points += written.points
            report.dead_letters += written.dead_letters
        report.events += len(chunk)
        report.points += points
        if progress is not None:
            progress(report.events, report.points)

    def close(self) -> None:
        self.quiet.close()
        if self._loud is not None:
            self._loud.close()


def _at(live: dict[Partition, int], record: Record) -> int:
    return live.get((record.position.log, record.position.partition), -1)
