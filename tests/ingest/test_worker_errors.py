"""Errors by kind through the whole worker (STYLE.md 6): a store that is unavailable
pauses and retries, data a store refuses is dead-lettered record by record, and a bug
crashes the worker before anything is committed; the restart replays safely."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition

from tests.ingest.events import (
    experiment_created,
    params_logged,
    postgres_snapshot,
    produce,
    run_ended,
    run_started,
    running,
    wait_until,
)
from tests.ingest.test_worker import read_topic, some_runs, stored_points
from tracklog.contract.settings import Settings
from tracklog.ingest.dead_letters.poison import REJECTED_BY_STORE
from tracklog.ingest.worker import Worker
from tracklog.ingest.writers import tracking as tracking_writer

pytestmark = pytest.mark.integration


def committed_offsets(settings: Settings) -> dict[int, int | None]:
    """The consumer group's committed offset per partition of the events topic."""
    consumer = KafkaConsumer(
        **settings.kafka.client_options(),
        group_id=settings.consumer_group,
        enable_auto_commit=False,
    )
    try:
        topic = settings.kafka.events_topic
        partitions = wait_until(lambda: consumer.partitions_for_topic(topic), what="metadata")
        return {p: consumer.committed(TopicPartition(topic, p)) for p in sorted(partitions)}
    finally:
        consumer.close()


def test_a_store_unavailable_pauses_consumption_retries_and_resumes(
    settings: Settings, clickhouse_client: Any
) -> None:
    events = some_runs(runs=2, steps=200)
    produce(settings, events)
    worker = Worker(settings, clickhouse_client)
    apply = worker._writer.postgres.apply
    seen_while_failing: list[tuple[str, int]] = []

    def down_three_times(*args: Any, **kwargs: Any) -> Any:
        if len(seen_while_failing) < 3:
            seen_while_failing.append((worker.stats.paused_because, worker.stats.batches))
            raise psycopg.OperationalError("connection refused")
        return apply(*args, **kwargs)

    worker._writer.postgres.apply = down_three_times  # type: ignore[method-assign]
    with running(worker) as runner:
        wait_until(lambda: runner.drained(len(events)), what="the worker to recover")
    assert [why for why, _ in seen_while_failing[1:]] == [
        "postgres failed: OperationalError('connection refused')"
    ] * 2  # paused after the first failure, and stayed paused
    assert [batches for _, batches in seen_while_failing] == [0, 0, 0]  # nothing went through
    assert worker.stats.retries == 3 and not worker.stats.paused_because
    assert (
        worker.metrics.registry.get_sample_value(
            "tracklog_ingest_retries_total", {"stage": "postgres"}
        )
        == 3
    )
    assert stored_points(clickhouse_client, settings.clickhouse_database) == 2 * 2 * 200
    assert [r[5] for r in postgres_snapshot(settings.postgres_dsn)["runs"]] == ["FINISHED"] * 2


def test_data_a_store_refuses_is_dead_lettered_and_the_rest_of_the_batch_applied(
    settings: Settings, clickhouse_client: Any
) -> None:
    poisoned = params_logged("run0", {"poison": "x"}, seq=3)
    events = [
        experiment_created("e1", "exp"),
        run_started("run0", "e1", "r"),
        params_logged("run0", {"lr": "0.1"}),
        poisoned,
        params_logged("run0", {"depth": "3"}, seq=4),
        run_ended("run0", seq=9),
    ]
    produce(settings, events)
    worker = Worker(settings, clickhouse_client)
    apply = worker._writer.postgres.apply

    def refuse_the_poison(batch: Any, *args: Any, **kwargs: Any) -> Any:
        if "'poison'" in repr([ops for _, ops in batch]):
            raise psycopg.DataError("invalid byte sequence for encoding")
        return apply(batch, *args, **kwargs)

    worker._writer.postgres.apply = refuse_the_poison  # type: ignore[method-assign]
    with running(worker) as runner:
        wait_until(lambda: runner.drained(len(events)), what="the worker to drain")
    assert worker.stats.dead_letters == 1 and worker.stats.retries == 0
    tables = postgres_snapshot(settings.postgres_dsn)
    assert sorted(p[1] for p in tables["params"]) == ["depth", "lr"]
    assert [r[5] for r in tables["runs"]] == ["FINISHED"]
    (letter,) = read_topic(settings, settings.kafka.dead_letter_topic, expected=1)
    headers = {k: v.decode() for k, v in letter.headers}
    assert headers["reason"].startswith(REJECTED_BY_STORE)
    assert "invalid byte sequence" in headers["reason"]
    assert letter.value == poisoned.SerializeToString()


@pytest.mark.parametrize("bug", [KeyError("run_id"), AttributeError("no attribute 'run_id'")])
def test_a_writer_bug_crashes_the_worker_commits_nothing_and_the_restart_replays(
    settings: Settings,
    clickhouse_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    bug: Exception,
) -> None:
    events = some_runs(runs=2, steps=200)
    produce(settings, events)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise bug

    # inside the Postgres transaction, after ClickHouse took the points
    monkeypatch.setattr(tracking_writer, "apply", broken)
    first = Worker(settings, clickhouse_client)
    with running(first) as runner:
        wait_until(lambda: runner.error is not None, what="the worker to crash")
    assert runner.error is bug  # not retried, not dead-lettered: raised by run()
    assert first.stats.retries == 0 and first.stats.dead_letters == 0
    assert first.stats.batches == 0
    assert postgres_snapshot(settings.postgres_dsn)["runs"] == []  # rolled back
    assert set(committed_offsets(settings).values()) == {None}
    assert stored_points(clickhouse_client, settings.clickhouse_database) > 0

    monkeypatch.undo()  # the fix is deployed: the restart replays the batch
    second = Worker(settings, clickhouse_client)
    with running(second) as runner:
        wait_until(lambda: runner.drained(len(events)), what="the restart to drain")
    assert stored_points(clickhouse_client, settings.clickhouse_database) == 2 * 2 * 200
    assert [r[5] for r in postgres_snapshot(settings.postgres_dsn)["runs"]] == ["FINISHED"] * 2
