"""The worker end to end: real broker, Postgres and chDB."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition

from tests.ingest.events import (
    clickhouse_snapshot,
    experiment_created,
    metrics_logged,
    params_logged,
    postgres_snapshot,
    produce,
    run_ended,
    run_started,
    running,
    tags_set,
    wait_until,
)
from tracklog.contract.settings import Settings
from tracklog.ingest.worker import Worker
from tracklog.v1 import events_pb2 as pb

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """Simulates the process dying (not an error the worker retries)."""


def some_runs(runs: int = 3, steps: int = 500) -> list[pb.Envelope]:
    events = [experiment_created("e1", "exp", {"team": "ml"})]
    for r in range(runs):
        run = f"run{r}"
        events += [
            run_started(run, "e1", f"run-{r}", {"seed": str(r)}),
            params_logged(run, {"lr": "0.1", "depth": str(r)}),
            tags_set(run, {"phase": "train"}),
        ]
        for chunk in range(0, steps, 100):
            points = [
                (key, s, 1_000 + s, value)
                for s in range(chunk, chunk + 100)
                for key, value in (("loss", 1.0 / (s + 1)), ("acc", s / steps))
            ]
            events.append(metrics_logged(run, points, seq=10 + chunk))
        events += [tags_set(run, {"phase": "done"}, seq=90), run_ended(run, seq=99)]
    return events


def point_count(events: list[pb.Envelope]) -> int:
    return sum(len(e.metrics_logged.keys) for e in events)


def stored_points(client: Any, database: str) -> int:
    return int(client.query(f"SELECT count() FROM {database}.metric_points").result_rows[0][0])


def distinct_points(client: Any, database: str) -> int:
    return int(
        client.query(
            f"SELECT count() FROM (SELECT DISTINCT run_id, key, step, timestamp_ms"
            f" FROM {database}.metric_points)"
        ).result_rows[0][0]
    )


def read_topic(settings: Settings, topic: str, expected: int, timeout: float = 30.0) -> list[Any]:
    consumer = KafkaConsumer(
        **settings.kafka.client_options(), group_id=None, enable_auto_commit=False
    )
    try:
        partitions = wait_until(
            lambda: consumer.partitions_for_topic(topic), what=f"{topic} metadata"
        )
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        messages: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(messages) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                messages.extend(batch)
        return messages
    finally:
        consumer.close()


def test_worker_projects_every_kind_of_event(settings: Settings, clickhouse_client: Any) -> None:
    events = some_runs()
    produce(settings, events)
    worker = Worker(settings, clickhouse_client)
    with running(worker) as runner:
        wait_until(lambda: runner.drained(len(events)), what="the worker to drain")
        assert worker.lag() == 0
    database = settings.clickhouse_database
    tables = postgres_snapshot(settings.postgres_dsn)
    assert [(e[0], e[1]) for e in tables["experiments"]] == [("e1", "exp")]
    assert tables["experiment_tags"] == [("e1", "team", "ml")]
    assert [(r[0], r[1], r[2], r[5]) for r in tables["runs"]] == [
        (f"run{r}", "e1", f"run-{r}", "FINISHED") for r in range(3)
    ]
    assert len(tables["params"]) == 6
    assert {(t[0], t[1]): t[2] for t in tables["tags"]} == {
        **{(f"run{r}", "seed"): str(r) for r in range(3)},
        **{(f"run{r}", "phase"): "done" for r in range(3)},
    }
    assert sorted((m[0], m[1], m[2], m[4]) for m in tables["latest_metrics"]) == sorted(
        [(f"run{r}", "loss", 499, 1.0 / 500) for r in range(3)]
        + [(f"run{r}", "acc", 499, 499 / 500) for r in range(3)]
    )
    assert stored_points(clickhouse_client, database) == point_count(events) == 3_000
    history = clickhouse_client.query(
        f"SELECT step, value FROM {database}.metric_points"
        " WHERE run_id = 'run1' AND key = 'loss' ORDER BY step"
    ).result_rows
    assert history == [(s, 1.0 / (s + 1)) for s in range(500)]
    stats = worker.stats
    assert stats.events_consumed == len(events)
    assert stats.points_written == 3_000
    assert stats.dead_letters == 0
    assert stats.batches >= 1


def test_bad_records_are_dead_lettered_and_later_events_still_project(
    settings: Settings, clickhouse_client: Any
) -> None:
    ragged = metrics_logged("run0", [("loss", 0, 1, 1.0)])
    ragged.metrics_logged.steps.append(2)
    produce(
        settings,
        [
            (b"junk", b"\x08\xff\xff not protobuf"),
            ragged,
            run_started("run0", "e1", "ok"),
            params_logged("run0", {"lr": "0.1"}),
            params_logged("run0", {"lr": "0.5"}, seq=3),  # params are write-once
            metrics_logged("run0", [("loss", 0, 1, 1.0)], seq=4),
        ],
    )
    worker = Worker(settings, clickhouse_client)
    with running(worker) as runner:
        wait_until(lambda: runner.drained(6), what="the worker to drain")
    assert worker.stats.dead_letters == 3
    assert worker.stats.param_conflicts == 1
    tables = postgres_snapshot(settings.postgres_dsn)
    assert [r[5] for r in tables["runs"]] == ["RUNNING"]
    assert tables["params"] == [("run0", "lr", "0.1")]
    assert stored_points(clickhouse_client, settings.clickhouse_database) == 1

    letters = read_topic(settings, settings.kafka.dead_letter_topic, expected=3)
    headers = [dict(m.headers) for m in letters]
    by_reason = {
        h["reason"].decode().split(":")[0]: (m, h) for m, h in zip(letters, headers, strict=True)
    }
    assert set(by_reason) == {
        "undecodable envelope",
        "metrics_logged columns differ in length",
        "param conflict",
    }
    junk, junk_headers = by_reason["undecodable envelope"]
    assert (junk.key, junk.value) == (b"junk", b"\x08\xff\xff not protobuf")
    assert junk_headers["source_topic"].decode() == settings.kafka.events_topic
    assert int(junk_headers["source_offset"]) >= 0 and int(junk_headers["source_partition"]) >= 0
    conflict, conflict_headers = by_reason["param conflict"]
    assert pb.Envelope.FromString(conflict.value).params_logged.params[0].value == "0.5"
    assert "keeps '0.1'" in conflict_headers["detail"].decode()


def test_crash_between_clickhouse_insert_and_commit_leaves_no_duplicates(
    settings: Settings, clickhouse_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = some_runs(runs=2, steps=1_000)
    produce(settings, events)
    total = point_count(events)
    database = settings.clickhouse_database

    # 1. Points reach ClickHouse, then the process dies before Postgres and Kafka commit.
    first = Worker(settings, clickhouse_client)

    def die(*args: Any, **kwargs: Any) -> Any:
        raise Crash

    monkeypatch.setattr(first._writer.postgres, "apply", die)
    with running(first) as runner:
        wait_until(lambda: runner.error is not None, what="the first worker to crash")
    written_before_crash = stored_points(clickhouse_client, database)
    assert written_before_crash > 0
    assert postgres_snapshot(settings.postgres_dsn)["runs"] == []

    # 2. A new worker in the same group starts from the beginning (nothing committed).
    second = Worker(settings, clickhouse_client)
    with running(second) as runner:
        wait_until(lambda: runner.drained(len(events)), what="the second worker to drain")
    assert (
        stored_points(clickhouse_client, database)
        == distinct_points(clickhouse_client, database)
        == total
    )
    assert second.stats.points_written == total - written_before_crash
    assert len(postgres_snapshot(settings.postgres_dsn)["runs"]) == 2


def test_crash_after_both_stores_before_the_kafka_commit_leaves_no_duplicates(
    settings: Settings, clickhouse_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = some_runs(runs=2, steps=300)
    produce(settings, events)
    first = Worker(settings, clickhouse_client)

    def die(*args: Any, **kwargs: Any) -> None:
        raise Crash

    monkeypatch.setattr(first, "_commit", die)
    with running(first) as runner:
        wait_until(lambda: runner.error is not None, what="the first worker to crash")
    before_pg = postgres_snapshot(settings.postgres_dsn)
    before_ch = clickhouse_snapshot(clickhouse_client, settings.clickhouse_database)
    assert before_ch

    # Re-read everything (no seek to the stores' positions): both filters must hold.
    second = Worker(settings, clickhouse_client, resume_from_stores=False)
    with running(second) as runner:
        wait_until(lambda: runner.drained(len(events)), what="the second worker to drain")
    after_ch = clickhouse_snapshot(clickhouse_client, settings.clickhouse_database)
    assert len(after_ch) == point_count(events)
    assert set(before_ch) <= set(after_ch)
    assert second.stats.points_written == len(after_ch) - len(before_ch)
    after_pg = postgres_snapshot(settings.postgres_dsn)
    for table in ("experiments", "experiment_tags", "params"):
        assert set(before_pg[table]) <= set(after_pg[table])
    assert [r[5] for r in after_pg["runs"]] == ["FINISHED", "FINISHED"]
    assert sorted((m[0], m[1], m[2]) for m in after_pg["latest_metrics"]) == [
        (run, key, 299) for run in ("run0", "run1") for key in ("acc", "loss")
    ]


def test_replaying_the_topic_with_a_new_group_changes_nothing(
    settings: Settings, clickhouse_client: Any
) -> None:
    events = some_runs(runs=2, steps=300)
    produce(settings, [*events, (None, b"garbage")])
    worker = Worker(settings, clickhouse_client)
    with running(worker) as runner:
        wait_until(lambda: runner.drained(len(events) + 1), what="the worker to drain")
    database = settings.clickhouse_database
    postgres_before = postgres_snapshot(settings.postgres_dsn)
    clickhouse_before = clickhouse_snapshot(clickhouse_client, database)
    assert len(clickhouse_before) == point_count(events)
    with psycopg.connect(settings.postgres_dsn) as conn:
        tracked = conn.execute("SELECT count(*) FROM projection_offsets").fetchone()
    assert tracked is not None and tracked[0] >= 1

    # A new group, reading from offset 0 through both stores' filters.
    again = replace(settings, consumer_group=settings.consumer_group + "-replay")
    replayer = Worker(again, clickhouse_client, resume_from_stores=False)
    with running(replayer) as runner:
        wait_until(lambda: runner.drained(len(events) + 1), what="the replaying worker to drain")
    assert replayer.stats.events_consumed == len(events) + 1
    assert replayer.stats.points_written == 0
    assert replayer.stats.dead_letters == 0  # already dead-lettered once
    assert postgres_snapshot(settings.postgres_dsn) == postgres_before
    assert clickhouse_snapshot(clickhouse_client, database) == clickhouse_before


def test_two_workers_share_the_partitions_without_duplicates(
    settings: Settings, clickhouse_client: Any
) -> None:
    events = some_runs(runs=4, steps=500)
    produce(settings, events)
    total = point_count(events)
    database = settings.clickhouse_database
    one, two = Worker(settings, clickhouse_client), Worker(settings, clickhouse_client)
    with running(one) as first, running(two) as second:
        wait_until(
            lambda: (
                stored_points(clickhouse_client, database) == total
                and first.drained(0)
                and second.drained(0)
            ),
            what="both workers to drain",
        )
    assert distinct_points(clickhouse_client, database) == total
    tables = postgres_snapshot(settings.postgres_dsn)
    assert [r[5] for r in tables["runs"]] == ["FINISHED"] * 4
    assert one.stats.events_consumed + two.stats.events_consumed >= len(events)


def test_an_event_sent_twice_takes_effect_once(settings: Settings, clickhouse_client: Any) -> None:
    """An SDK resend (acknowledgement lost) puts a second copy at a later offset."""
    started = run_started("run0", "e1", "r")
    points = metrics_logged("run0", [("loss", s, 1_000 + s, 0.5) for s in range(100)])
    tag_old, tag_new = tags_set("run0", {"phase": "a"}), tags_set("run0", {"phase": "b"}, seq=5)
    worker = Worker(settings, clickhouse_client)
    with running(worker) as runner:
        produce(settings, [started, points, tag_old, points, tag_new])  # in one batch
        wait_until(lambda: runner.drained(5), what="the first batch")
        produce(settings, [points, tag_old, started])  # copies of events applied before
        wait_until(lambda: runner.drained(8), what="the copies")
    assert worker.stats.duplicates == 4
    assert stored_points(clickhouse_client, settings.clickhouse_database) == 100
    tables = postgres_snapshot(settings.postgres_dsn)
    assert tables["tags"] == [("run0", "phase", "b")]  # the late copy of "a" changed nothing
    assert worker.stats.dead_letters == 0


def test_an_event_refused_by_a_conflict_takes_effect_when_replayed_after_a_fix(
    settings: Settings, clickhouse_client: Any
) -> None:
    first, refused = params_logged("run0", {"lr": "0.1"}), params_logged("run0", {"lr": "0.5"}, 3)
    worker = Worker(settings, clickhouse_client)
    with running(worker) as runner:
        produce(settings, [run_started("run0", "e1", "r"), first, refused])
        wait_until(lambda: runner.drained(3), what="the conflict")
        assert worker.stats.param_conflicts == 1
        with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:  # the fix
            conn.execute("DELETE FROM params WHERE run_id = 'run0' AND key = 'lr'")
        produce(settings, [refused])  # what `tracklog dlq replay` sends: the same bytes
        wait_until(lambda: runner.drained(4), what="the replayed copy")
    assert worker.stats.duplicates == 0
    assert postgres_snapshot(settings.postgres_dsn)["params"] == [("run0", "lr", "0.5")]


class LostResponse:
    """A ClickHouse client whose first insert lands but whose answer is lost (a timeout
    after the server committed, as over HTTP)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.lost = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def raw_insert(self, *args: Any, **kwargs: Any) -> Any:  # the writer's insert path
        result = self._client.raw_insert(*args, **kwargs)
        if not self.lost:
            self.lost += 1
            raise ConnectionResetError("the response was lost")
        return result


def test_an_insert_whose_answer_was_lost_is_not_repeated(
    settings: Settings, clickhouse_client: Any
) -> None:
    events = some_runs(runs=2, steps=300)
    produce(settings, events)
    client = LostResponse(clickhouse_client)
    worker = Worker(settings, client)
    with running(worker) as runner:
        wait_until(lambda: runner.drained(len(events)), what="the worker to drain")
    assert client.lost == 1 and worker.stats.retries >= 1
    database = settings.clickhouse_database
    assert stored_points(clickhouse_client, database) == point_count(events)
