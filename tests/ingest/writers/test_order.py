"""Last-writer-wins rows keep the latest value by the events' order keys, whatever order
the log holds them in (issue 12, item 4): a late copy of an older event never wins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.ingest.events import postgres_snapshot, tags_set
from tests.ingest.writers.ordered_events import Log, stamped
from tracklog.contract.settings import Settings
from tracklog.ingest.projectors.order import order_key
from tracklog.ingest.writers.postgres import PostgresWriter
from tracklog.v1 import events_pb2 as pb

pytestmark = pytest.mark.integration

EXP, RUN = "e1", "r1"
ALL_TABLES = ("experiments", "experiment_tags", "runs", "tags", "lww_tombstones")


@pytest.fixture
def writer(settings: Settings) -> Iterator[PostgresWriter]:
    w = PostgresWriter(settings.postgres_dsn)
    w.migrate()
    yield w
    w.close()


@pytest.fixture
def log(writer: PostgresWriter) -> Log:
    return Log(writer)


def one(dsn: str, query: str, *args: Any) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, args).fetchone()
    return None if row is None else row[0] if len(row) == 1 else row


def run_tag(dsn: str, key: str) -> str | None:
    value = one(dsn, "SELECT value FROM tags WHERE run_id = %s AND key = %s", RUN, key)
    return None if value is None else str(value)


def tag(key: str, value: str) -> pb.TagsSet:
    return pb.TagsSet(tags=[pb.Tag(key=key, value=value)])


def started(at: int = 0, session: str = "aaaa") -> pb.Envelope:
    payload = pb.RunStarted(experiment_id=EXP, run_name="first", user_id="ann")
    return stamped(RUN, payload, at=at, session=session)


def test_the_order_key_sorts_by_time_then_session_then_sequence() -> None:
    keys = [
        order_key(stamped(RUN, tag("k", "v"), at=1, session="", sequence=7)),
        order_key(stamped(RUN, tag("k", "v"), at=1, session="ab", sequence=2)),
        order_key(stamped(RUN, tag("k", "v"), at=1, session="ab", sequence=10)),
        order_key(stamped(RUN, tag("k", "v"), at=1, session="abc", sequence=1)),
        order_key(stamped(RUN, tag("k", "v"), at=2, session="", sequence=1)),
    ]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    # bytewise order, as the read model's COLLATE "C" columns compare them
    assert sorted(keys, key=str.encode) == keys
    assert order_key(pb.Envelope()) < keys[0]  # no time at all sorts first


def test_a_replayed_old_tag_leaves_the_newer_value(log: Log, settings: Settings) -> None:
    old = stamped(RUN, tag("phase", "train"), at=1, sequence=2)
    new = stamped(RUN, tag("phase", "eval"), at=2, sequence=3)
    log.apply(started(), old, new)
    log.apply(old)  # tracklog dlq replay / an adopted spool: the old copy again, later
    assert run_tag(settings.postgres_dsn, "phase") == "eval"
    # and in one batch, newest first, the newest still wins
    log.apply(
        stamped(RUN, tag("phase", "test"), at=5, sequence=5),
        stamped(RUN, tag("phase", "old"), at=4, sequence=4),
    )
    assert run_tag(settings.postgres_dsn, "phase") == "test"


def test_a_late_older_delete_does_not_delete_a_newer_set(log: Log, settings: Settings) -> None:
    delete = stamped(RUN, pb.RunTagDeleted(key="phase"), at=2, sequence=3)
    log.apply(started(), stamped(RUN, tag("phase", "train"), at=1, sequence=2))
    log.apply(stamped(RUN, tag("phase", "eval"), at=3, sequence=4))
    log.apply(delete)  # older than the set before it
    assert run_tag(settings.postgres_dsn, "phase") == "eval"


def test_a_late_older_set_does_not_bring_a_deleted_tag_back(log: Log, settings: Settings) -> None:
    old_set = stamped(RUN, tag("phase", "train"), at=1, sequence=2)
    log.apply(started(), old_set, stamped(RUN, pb.RunTagDeleted(key="phase"), at=2, sequence=3))
    assert run_tag(settings.postgres_dsn, "phase") is None
    log.apply(old_set)
    assert run_tag(settings.postgres_dsn, "phase") is None
    log.apply(stamped(RUN, tag("phase", "again"), at=3, sequence=4))  # a newer set does
    assert run_tag(settings.postgres_dsn, "phase") == "again"


def test_an_old_run_status_or_name_arriving_late_does_not_win(log: Log, settings: Settings) -> None:
    dsn = settings.postgres_dsn
    killed = stamped(RUN, pb.RunEnded(status=pb.RUN_STATUS_KILLED), at=2, sequence=2)
    renamed = stamped(RUN, pb.RunRenamed(new_name="old name"), at=3, sequence=3)
    log.apply(started(), killed, renamed)
    log.apply(
        stamped(RUN, pb.RunEnded(status=pb.RUN_STATUS_FINISHED), at=4, sequence=4),
        stamped(RUN, pb.RunRenamed(new_name="new name"), at=5, sequence=5),
    )
    log.apply(renamed, killed)  # the old copies, re-produced
    assert one(dsn, "SELECT status, run_name FROM runs WHERE run_id = %s", RUN) == (
        "FINISHED",
        "new name",
    )
    assert run_tag(dsn, "mlflow.runName") == "new name"


def test_late_lifecycle_and_experiment_changes_do_not_win(log: Log, settings: Settings) -> None:
    dsn = settings.postgres_dsn
    created = pb.ExperimentCreated(name="exp", artifact_location="/a")
    deleted = stamped(EXP, pb.ExperimentDeleted(), at=2, sequence=2)
    renamed = stamped(EXP, pb.ExperimentRenamed(new_name="old"), at=3, sequence=3)
    exp_tag = stamped(EXP, pb.ExperimentTagSet(tag=pb.Tag(key="k", value="1")), at=3, sequence=4)
    run_deleted = stamped(RUN, pb.RunDeleted(), at=2, sequence=2)
    log.apply(stamped(EXP, created, at=0), started(), deleted, renamed, exp_tag)
    log.apply(
        stamped(EXP, pb.ExperimentRestored(), at=5, sequence=5),
        stamped(EXP, pb.ExperimentRenamed(new_name="new"), at=5, sequence=6),
        stamped(EXP, pb.ExperimentTagSet(tag=pb.Tag(key="k", value="2")), at=5, sequence=7),
        stamped(RUN, pb.RunRestored(), at=6, sequence=3),
    )
    log.apply(deleted, renamed, exp_tag, run_deleted)  # late copies of older changes
    assert one(dsn, "SELECT name, lifecycle_stage FROM experiments") == ("new", "active")
    assert one(dsn, "SELECT lifecycle_stage FROM runs") == "active"
    assert one(dsn, "SELECT value FROM experiment_tags WHERE key = 'k'") == "2"


def test_events_without_a_session_still_apply_in_log_order(log: Log, settings: Settings) -> None:
    # tests/ingest/events.py's events carry no producer_session, as events written before it
    log.apply(tags_set(RUN, {"phase": "first"}), tags_set(RUN, {"phase": "second"}))
    assert run_tag(settings.postgres_dsn, "phase") == "second"
    log.apply(tags_set(RUN, {"phase": "third"}))
    assert run_tag(settings.postgres_dsn, "phase") == "third"
    same_time = [stamped(RUN, tag("k", v), at=1, session="") for v in ("a", "b", "c")]
    log.apply(*same_time[:2])
    log.apply(same_time[2])
    assert run_tag(settings.postgres_dsn, "k") == "c"


def test_any_arrival_order_converges_and_a_replay_changes_nothing(
    writer: PostgresWriter, settings: Settings
) -> None:
    dsn = settings.postgres_dsn
    events = [
        stamped(EXP, pb.ExperimentCreated(name="exp"), at=0),
        started(at=0),
        stamped(RUN, tag("a", "1"), at=1, sequence=2),
        stamped(RUN, pb.RunTagDeleted(key="a"), at=2, sequence=3),
        stamped(RUN, tag("b", "1"), at=2, sequence=4),
        stamped(RUN, tag("b", "2"), at=3, session="bbbb", sequence=1),
        stamped(RUN, pb.RunEnded(status=pb.RUN_STATUS_FAILED), at=4, sequence=5),
        stamped(RUN, pb.RunRenamed(new_name="x"), at=4, sequence=6),
        stamped(EXP, pb.ExperimentTagSet(tag=pb.Tag(key="t", value="1")), at=1, sequence=2),
        stamped(EXP, pb.ExperimentTagDeleted(key="t"), at=2, sequence=3),
    ]
    in_order = Log(writer)
    in_order.apply(*events)
    expected = postgres_snapshot(dsn, orders=True, tables=ALL_TABLES)
    assert expected["tags"] == [
        (RUN, "b", "2", order_key(events[5])),
        (RUN, "mlflow.runName", "x", order_key(events[7])),
    ]
    # the same records again (a rebuild over a tracked partition) change nothing
    in_order.offset = 0
    in_order.apply(*events)
    assert postgres_snapshot(dsn, orders=True, tables=ALL_TABLES) == expected
    # from scratch, a log holding the later events first (creations stay first) ends the same
    with psycopg.connect(dsn) as conn:
        conn.execute(f"TRUNCATE {', '.join(ALL_TABLES)}")
    assert postgres_snapshot(dsn, tables=ALL_TABLES)["tags"] == []
    reversed_log = Log(writer, topic="copy")
    reversed_log.apply(*events[:2])
    for event in reversed(events[2:]):
        reversed_log.apply(event)
    assert postgres_snapshot(dsn, orders=True, tables=ALL_TABLES) == expected


def test_logged_model_tags_and_status_keep_the_latest_change(log: Log, settings: Settings) -> None:
    dsn, model = settings.postgres_dsn, "m-" + "a" * 32
    created = pb.LoggedModelCreated(experiment_id=EXP, name="model")
    created.creation_time.FromSeconds(1_700_000_000)

    def tagged(value: str, at: int) -> pb.Envelope:
        return stamped(model, pb.LoggedModelTagSet(tag=pb.Tag(key="k", value=value)), at=at)

    def finalized(status: pb.LoggedModelStatus.ValueType, at: int) -> pb.Envelope:
        return stamped(model, pb.LoggedModelFinalized(status=status), at=at)

    log.apply(
        stamped(model, created, at=0), tagged("new", 3), finalized(pb.LOGGED_MODEL_STATUS_READY, 3)
    )
    log.apply(tagged("old", 2), finalized(pb.LOGGED_MODEL_STATUS_FAILED, 2))
    log.apply(stamped(model, pb.LoggedModelTagDeleted(key="k"), at=1))
    assert one(dsn, "SELECT value FROM logged_model_tags WHERE key = 'k'") == "new"
    assert one(dsn, "SELECT status FROM logged_models") == "READY"
    log.apply(stamped(model, pb.LoggedModelTagDeleted(key="k"), at=4), tagged("older", 3))
    assert one(dsn, "SELECT value FROM logged_model_tags WHERE key = 'k'") is None
