"""`tracklog dlq replay`: send dead letters back to the events topic, each at most once.

After an operator fixed what rejected them (e.g. deployed a worker that knows a new
payload), the original key and bytes of the chosen dead letters are produced to
the events topic again (acks=all). Postgres remembers every replayed dead letter
by (dead-letter log name, partition, offset) in `dead_letter_replays`, together
with where its copy landed in the events topic:

- a dead letter already replayed is never replayed again;
- a copy that is still bad lands in the dead-letter topic again with the same
  reason; that new dead letter's source is a recorded copy, so it is skipped
  unless `retry_replays` asks for it (after a second fix), which stops a bad
  record from bouncing on every replay.

The rows are written in the transaction that holds an advisory lock for the whole
replay and commits only after the broker acknowledged every copy. A crash between
the acknowledgement and the commit leaves the copies sent but not recorded: the
next replay sends them again (the worker skips an event_id it already applied).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from kafka import KafkaProducer

from tracklog.contract.read_model.postgres_schema import migrate
from tracklog.contract.settings import Settings
from tracklog.ingest.dead_letters.reader import DeadLetter, DeadLetterLog, read_dead_letters

_LOCK_KEY = 0x746B_646C  # "tkdl": one replay at a time per database
REPLAY_HEADER = "tracklog_replay_of"  # on each copy: "<dlq log>/<partition>/<offset>"
MAX_REQUEST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Replayed:
    """A dead letter chosen for replay and where its copy went (None on a dry run)."""

    letter: DeadLetter
    partition: int | None = None
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class ReplayReport:
    dead_letters: int  # in the dead-letter topic when the replay started
    matching: int  # of those, selected by the filters
    already_replayed: int  # matching, skipped: replayed before
    replays_of_replays: int  # matching, skipped: a copy rejected again (see retry_replays)
    truncated: int  # matching, skipped: cut to fit the dead-letter topic, not whole
    replayed: tuple[Replayed, ...]
    dry_run: bool


def replay(
    settings: Settings,
    *,
    reason: str | None = None,
    positions: Collection[tuple[int, int]] | None = None,
    dry_run: bool = False,
    retry_replays: bool = False,
    timeout: float = 30.0,
) -> ReplayReport:
    """Replay the dead letters matching `reason` (substring) and `positions` (partition, offset)."""
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        migrate(conn)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            dlq = read_dead_letters(settings.kafka, timeout)
            done, copies = _replays(conn, dlq.log, settings.kafka.events_topic)
            matching = [
                letter
                for letter in dlq.letters
                if letter.matches(reason)
                and (positions is None or (letter.partition, letter.offset) in positions)
            ]
            whole = [x for x in matching if x.truncated_from is None]
            fresh = [x for x in whole if (x.partition, x.offset) not in done]
            rerejected = [x for x in fresh if x.source in copies]
            chosen = fresh if retry_replays else [x for x in fresh if x.source not in copies]
            if dry_run or not chosen:
                replayed = tuple(Replayed(letter) for letter in chosen)
            else:
                replayed = _produce(settings, dlq, chosen, timeout)
                _record(conn, dlq.log, settings.kafka.events_topic, replayed)
    return ReplayReport(
        dead_letters=len(dlq.letters),
        matching=len(matching),
        already_replayed=len(whole) - len(fresh),
        replays_of_replays=0 if retry_replays else len(rerejected),
        replayed=replayed,
        dry_run=dry_run,
        truncated=len(matching) - len(whole),
    )


def _replays(
    conn: psycopg.Connection[Any], log: str, events_topic: str
) -> tuple[set[tuple[int, int]], set[tuple[str, int | None, int | None]]]:
    """(dead letters of this log already replayed, events-topic positions of all copies)."""
    rows = conn.execute(
        "SELECT dlq_partition, dlq_offset FROM dead_letter_replays WHERE dlq_log = %s", (log,)
    ).fetchall()
    copies = conn.execute(
        "SELECT target_topic, target_partition, target_offset FROM dead_letter_replays"
        " WHERE target_topic = %s",
        (events_topic,),
    ).fetchall()
    return {(int(p), int(o)) for p, o in rows}, {(str(t), int(p), int(o)) for t, p, o in copies}


def _produce(
    settings: Settings, dlq: DeadLetterLog, letters: Sequence[DeadLetter], timeout: float
) -> tuple[Replayed, ...]:
    producer = KafkaProducer(
        **settings.kafka.client_options(),
        client_id="tracklog-dlq-replay",
        acks="all",
        retries=5,
        max_in_flight_requests_per_connection=1,  # copies keep the dead letters' order
        max_request_size=MAX_REQUEST_BYTES,
    )
    try:
        futures = [
            producer.send(
                settings.kafka.events_topic,
                key=letter.key,
                value=letter.value,
                headers=[(REPLAY_HEADER, f"{dlq.log}/{letter.partition}/{letter.offset}".encode())],
            )
            for letter in letters
        ]
        producer.flush(timeout=timeout)
        sent = [future.get(timeout=timeout) for future in futures]  # raises if one failed
    finally:
        producer.close(timeout=10)
    return tuple(
        Replayed(letter, meta.partition, meta.offset)
        for letter, meta in zip(letters, sent, strict=True)
    )


def _record(
    conn: psycopg.Connection[Any], log: str, events_topic: str, replayed: Sequence[Replayed]
) -> None:
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO dead_letter_replays (dlq_log, dlq_partition, dlq_offset, reason,"
            " target_topic, target_partition, target_offset) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    log,
                    r.letter.partition,
                    r.letter.offset,
                    r.letter.reason.replace("\x00", "\\x00"),
                    events_topic,
                    r.partition,
                    r.offset,
                )
                for r in replayed
            ],
        )
