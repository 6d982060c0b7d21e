"""The rebuild's steps on real stores: the wipe, and which archived records get dead letters."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.faults.topic_ends import end_offsets
from tests.ingest.events import experiment_created, metrics_logged, run_started
from tests.ingest.writers.test_clickhouse_cluster import RecordingClient
from tracklog.contract.read_model import clickhouse_schema
from tracklog.contract.read_model.postgres_schema import MIGRATIONS
from tracklog.contract.settings import Settings
from tracklog.ingest.archive.event_archive import open_archive
from tracklog.ingest.archive.rebuild import (
    read_model_tables,
    rebuild_from_archive,
    wipe_read_models,
)
from tracklog.ingest.records import Position, Record

pytestmark = pytest.mark.integration


def counts(settings: Settings, clickhouse: Any) -> dict[str, int]:
    with psycopg.connect(settings.postgres_dsn) as conn:
        found = {
            t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
            for t in (*read_model_tables(), "schema_migrations")
        }
    query = f"SELECT count() FROM {settings.clickhouse_database}.metric_points"
    found["metric_points"] = int(clickhouse.query(query).result_rows[0][0])
    return found


def test_the_rebuild_tables_are_the_read_models() -> None:
    tables = read_model_tables()
    assert {"runs", "params", "projection_offsets", "applied_events", "registry_audit"} <= set(
        tables
    )
    assert "schema_migrations" not in tables and "dead_letter_replays" not in tables


def archive_of(settings: Settings, root: Path, values: list[bytes]) -> str:
    log = f"{settings.kafka.events_topic}@{'ab' * 16}"
    archive = open_archive(str(root))
    archive.add([Record(Position(log, 0, o), b"k", v) for o, v in enumerate(values)])
    archive.close()
    return log


def test_wipe_and_rebuild(settings: Settings, clickhouse_client: Any, tmp_path: Path) -> None:
    run = "r" * 32
    events = [
        experiment_created("e1", "exp").SerializeToString(),
        b"\x08junk the live worker dead-lettered",
        run_started(run, "e1").SerializeToString(),
        metrics_logged(run, [("loss", s, 1000 + s, s / 3) for s in range(10)]).SerializeToString(),
        b"\x08junk the live models never saw",
    ]
    log = archive_of(settings, tmp_path / "archive", events)
    wipe_read_models(settings, clickhouse_client)  # creates the schemas on empty databases
    first = rebuild_from_archive(
        settings, clickhouse_client, str(tmp_path / "archive"), live={(log, 0): 3}
    )
    assert (first.events, first.points, first.files, first.dead_letters) == (5, 10, 1, 1)
    assert sum(end_offsets(settings, settings.kafka.dead_letter_topic).values()) == 1
    before = counts(settings, clickhouse_client)
    assert before["runs"] == 1 and before["metric_points"] == 10 and before["applied_events"] == 3

    emptied = wipe_read_models(settings, clickhouse_client)
    assert f"{settings.clickhouse_database}.metric_points" in emptied and "runs" in emptied
    after = counts(settings, clickhouse_client)
    assert after.pop("schema_migrations") == len(MIGRATIONS)
    assert set(after.values()) == {0}
    again = rebuild_from_archive(settings, clickhouse_client, str(tmp_path / "archive"))
    assert again.dead_letters == 0  # without live positions: none sent
    assert counts(settings, clickhouse_client) == before


@pytest.mark.parametrize("cluster", ["", "metrics"])
def test_the_wipe_truncates_the_tables_that_hold_the_points(
    settings: Settings, cluster: str
) -> None:
    """On a cluster, every replica's local table: truncating the Distributed table would
    leave the shards' data in place. chDB cannot run cluster SQL: a client records it."""
    settings = replace(settings, clickhouse_cluster=cluster)
    database = settings.clickhouse_database
    clickhouse = RecordingClient()
    emptied = wipe_read_models(settings, clickhouse)
    ddl = clickhouse_schema.statements(database, cluster)
    truncations = clickhouse_schema.truncate_statements(database, cluster)
    assert clickhouse.commands == [*ddl, *truncations]
    if cluster:
        assert truncations == [
            f"TRUNCATE TABLE IF EXISTS {database}.metric_points_local ON CLUSTER `metrics`"
        ]
        assert emptied[0] == f"{database}.metric_points_local"
    else:
        assert truncations == [f"TRUNCATE TABLE IF EXISTS {database}.metric_points"]
        assert emptied[0] == f"{database}.metric_points"
    assert "runs" in emptied  # Postgres is emptied alike


def test_a_replay_over_an_archive_with_a_hole_fails_and_names_it(
    settings: Settings,
    clickhouse_client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    from tracklog.deploy.cli.replay import replay

    log = f"{settings.kafka.events_topic}@{'cd' * 16}"
    archive = open_archive(str(tmp_path), max_records=2)
    values = [experiment_created(f"e{o}", f"exp {o}").SerializeToString() for o in range(6)]
    archive.add([Record(Position(log, 0, o), b"k", v) for o, v in enumerate(values)])
    archive.close()
    hole = tmp_path / log / "00000" / f"{2:020d}-{3:020d}.avro"
    hole.unlink()  # offsets 2..3 are lost

    args = argparse.Namespace(no_catch_up=True, catch_up_timeout=None)
    assert replay(settings, clickhouse_client, str(tmp_path), args) == 1
    err = capsys.readouterr().err
    assert f"missing: {log}[0] offsets 2-3" in err and "lack them" in err
    assert counts(settings, clickhouse_client)["experiments"] == 4
