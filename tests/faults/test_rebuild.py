"""Rebuild from the event archive -> read models identical to the live ones.

A realistic mix (experiments, runs, params, tags, metrics with NaN, a deleted run,
registry events, a malformed record) is projected and archived by a live worker;
the newest archive file of each partition is then dropped (a worker killed before
its last flush) and a few events are logged that the live models never saw;
`tracklog replay --yes` empties both read models, rebuilds them from the archive,
reads what the live models held beyond the archive from Kafka (no dead letters
again) and catches up the rest with a worker. The models must equal the live ones
plus the late events; the old dead letter is not sent twice, the late one once.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kafka import KafkaProducer

import tracklog.contract.read_model.clickhouse_client
import tracklog.ingest.archive.worker_side
from tests.e2e.pipeline import running_pipeline, wait_until
from tests.e2e.snapshot import (
    POSTGRES_TABLES,
    REGISTRY_TABLES,
    clickhouse_snapshot,
    postgres_snapshot,
)
from tests.faults.topic_ends import end_offsets
from tracklog import RegistryClient, Session, TracklogClient
from tracklog.contract.settings import Settings
from tracklog.deploy.cli import main as cli
from tracklog.ingest.archive.event_archive import open_archive
from tracklog.ingest.archive.reader import ArchiveReader, covered

pytestmark = pytest.mark.integration
TABLES = (*POSTGRES_TABLES, "run_inputs", *REGISTRY_TABLES)
STEPS = 3_000


def log_a_realistic_mix(settings: Settings, address: str) -> int:
    """SDK calls of every kind, plus one record that is not an event; the points logged."""
    session = Session(settings.kafka, linger_seconds=0.005, query_addr=address)
    client = TracklogClient(address, session=session)
    session.set_experiment("rebuild")
    points, run_ids = 0, []
    for r in range(3):
        with session.start_run(run_name=f"run-{r}", tags={"seed": str(r)}) as run:
            run_ids.append(run.info.run_id)
            session.log_params({"depth": r, "lr": 0.1})
            session.set_tag("phase", "train")
            for step in range(STEPS):
                loss = float("nan") if step % 500 == 7 else 1.0 / (step + 1)
                session.log_metrics({"loss": loss, "acc": step / STEPS}, step=step)
                points += 2
            session.set_tag("phase", "done")
    client.delete_run(run_ids[1])
    assert session.flush(timeout=60)
    with RegistryClient(address, timeout=30) as registry:
        for i in range(2):
            registry.register_model(f"runs:/{run_ids[0]}/model", "churn", tags={"i": i})
        registry.transition_model_version_stage("churn", 1, "Production")
        registry.set_registered_model_alias("churn", "champion", 2)
    producer = KafkaProducer(**settings.kafka.client_options())
    producer.send(settings.kafka.events_topic, key=b"junk", value=b"\x08not an envelope")
    producer.flush()
    producer.close()
    client.close()
    session.close(10)
    return points


def tracking_rows(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return sorted(conn.execute("SELECT * FROM projection_offsets").fetchall())


def log_late_events(settings: Settings) -> tuple[set[str], int]:
    """Events the live models never saw (logged after the worker stopped): their ids and
    points. One is malformed: the worker that catches up dead-letters it."""
    session = Session(settings.kafka, linger_seconds=0.005)
    session.set_experiment("late")
    with session.start_run(run_name="late") as run:
        for step in range(500):
            session.log_metric("late", step / 10, step=step)
    ids = {run.info.run_id, run.info.experiment_id}
    assert session.flush(timeout=60)
    session.close(10)
    producer = KafkaProducer(**settings.kafka.client_options())
    producer.send(settings.kafka.events_topic, key=b"junk", value=b"\x08also not an envelope")
    producer.flush()
    producer.close()
    return ids, 500


def without(snapshot: dict[str, list[tuple[Any, ...]]], ids: set[str]) -> dict[str, Any]:
    return {t: [row for row in rows if not ids & set(row)] for t, rows in snapshot.items()}


def set_replay_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, clickhouse: Any) -> None:
    """`tracklog replay` reads its settings from the environment; chDB: this process's client."""
    monkeypatch.setattr(
        tracklog.contract.read_model.clickhouse_client, "connect", lambda dsn: clickhouse
    )
    for name, value in {
        "TRACKLOG_KAFKA_BOOTSTRAP": settings.kafka.bootstrap_servers,
        "TRACKLOG_EVENTS_TOPIC": settings.kafka.events_topic,
        "TRACKLOG_EVENTS_PARTITIONS": str(settings.kafka.partitions),
        "TRACKLOG_POSTGRES_DSN": settings.postgres_dsn,
        "TRACKLOG_CLICKHOUSE_DSN": settings.clickhouse_dsn,
        "TRACKLOG_CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "TRACKLOG_CONSUMER_GROUP": settings.consumer_group,
        "TRACKLOG_ARCHIVE_ROOT": settings.archive_root,
    }.items():
        monkeypatch.setenv(name, value)


def drop_newest_files(root: str) -> tuple[int, int]:
    """Each partition's newest archive file, lost (a worker killed before its last write);
    (records dropped, files kept)."""
    storage = open_archive(root).storage
    dropped = kept = 0
    for files in ArchiveReader(storage).files().values():
        if len(files) > 1:
            dropped += files[-1].last - files[-1].first + 1
            os.remove(Path(root) / files[-1].path)
            files = files[:-1]
        kept += len(files)
    return dropped, kept


def test_replay_rebuilds_both_read_models_from_the_archive(
    settings: Settings,
    clickhouse_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = replace(settings, archive_root=str(tmp_path / "archive"))
    database = settings.clickhouse_database
    # small files, so that dropping each partition's newest file leaves some behind
    small = functools.partial(open_archive, max_records=5, max_age_seconds=3600)
    monkeypatch.setattr(tracklog.ingest.archive.worker_side, "open_archive", small)
    with running_pipeline(settings, clickhouse_client) as pipeline:
        points = log_a_realistic_mix(settings, pipeline.address)
        wait_until(pipeline.worker.drained, timeout=120, what="the live worker to drain")
    live_postgres = postgres_snapshot(settings.postgres_dsn, TABLES)
    live_clickhouse = clickhouse_snapshot(clickhouse_client, database)
    assert len(live_clickhouse) == points
    assert len(live_postgres["runs"]) == 3 and len(live_postgres["model_versions"]) == 2
    assert sum(end_offsets(settings, settings.kafka.dead_letter_topic).values()) == 1

    # the worker archives both topics: tracking events and the registry's own
    topics = (settings.kafka.events_topic, settings.kafka.registry_topic)
    consumed = sum(sum(end_offsets(settings, topic).values()) for topic in topics)
    assert sum(end_offsets(settings, settings.kafka.registry_topic).values()) == 5
    archived = ArchiveReader(open_archive(settings.archive_root).storage).files()
    assert sum(covered(fs) for fs in archived.values()) == consumed  # the worker archived all
    dropped, kept_files = drop_newest_files(settings.archive_root)
    assert dropped > 0
    late_ids, late_points = log_late_events(settings)

    set_replay_env(monkeypatch, settings, clickhouse_client)
    assert cli.main(["replay"]) == 2  # refused without --yes: nothing touched
    assert "--yes" in capsys.readouterr().err
    assert clickhouse_snapshot(clickhouse_client, database) == live_clickhouse
    started = time.perf_counter()
    assert cli.main(["replay", "--yes", "--catch-up-timeout", "120"]) == 0
    seconds = time.perf_counter() - started
    output = capsys.readouterr().err
    assert "emptied" in output and "applied_events" in output
    assert f"archive: {consumed - dropped:,} events" in output and "; 0 gaps" in output
    assert f"from Kafka up to the live positions: {dropped:,} events" in output

    rebuilt_postgres = postgres_snapshot(settings.postgres_dsn, TABLES)
    rebuilt = clickhouse_snapshot(clickhouse_client, database)
    late_rows = [row for row in rebuilt if row[0] in late_ids]
    rebuilt_live = [row for row in rebuilt if row[0] not in late_ids]
    lost = len(set(live_clickhouse) - set(rebuilt_live))
    duplicated = len(rebuilt) - len(set(rebuilt))
    print(
        f"\nevents sent {consumed} (+late ones), archived {consumed - dropped} in {kept_files} "
        f"files ({dropped} read from Kafka), points {points} (+{late_points} late), rebuilt "
        f"{len(rebuilt)}, lost {lost}, duplicated {duplicated}, replay {seconds:.1f} s"
    )
    assert rebuilt_live == live_clickhouse
    assert len(late_rows) == late_points  # caught up by the worker
    assert without(rebuilt_postgres, late_ids) == live_postgres
    assert len(rebuilt_postgres["runs"]) == len(live_postgres["runs"]) + 1
    for topic in topics:
        ends = end_offsets(settings, topic)
        rows = [
            row for row in tracking_rows(settings.postgres_dsn) if row[1].startswith(topic + "@")
        ]
        assert sorted((row[2], row[3]) for row in rows) == sorted(
            (p, end - 1) for p, end in ends.items() if end
        )
    # the old dead letter is not sent again; the late malformed record is, once
    assert sum(end_offsets(settings, settings.kafka.dead_letter_topic).values()) == 2
