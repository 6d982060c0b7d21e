"""Exactly-once effect across resends: each event id takes effect once per projection.

Kafka redeliveries are handled by positions (tracking rows, ClickHouse offsets),
but an SDK that re-sends an event whose acknowledgement it lost (a broker killed
mid-request, a spool shipped again by the next process) puts a second copy at a
new offset. Every Envelope carries a unique event id; the worker drops a record
whose id was applied before (`seen`, read before ClickHouse is written) or that
repeats an earlier record of the same batch (`first_occurrences`), and records
the ids it applies in the Postgres transaction of the batch (`record`). All
copies of an event share its Kafka key, hence its partition and its owner, so
the read-then-write needs no lock. A record read again at the position where its
event was applied (a retried batch, a replay) is no resend: the stores' positions
skip it, and it is not counted as a duplicate.

The ids are kept for a horizon (`prune`, TRACKLOG_DEDUP_HORIZON_DAYS, default 30 days;
ingest/steps/prune_applied.py deletes older rows in small batches). A copy of an event
that happened within the horizon is always dropped: its first copy was applied after it
happened, so that id's row is younger than the horizon too (up to clock skew between the
SDK and Postgres). A copy of an older event whose id was pruned is applied again: its
Postgres effects are idempotent (params keep their first value, tags, statuses and names
keep the newest by each aggregate's order, artifacts are keyed by path), but its metric
points are stored a second time (ClickHouse skips redeliveries by offset, and the copy
has a new offset), so a metric history shows those points twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tracklog.ingest.records import Position


def first_occurrences(event_ids: Iterable[tuple[Position, str]]) -> dict[str, Position]:
    """event id -> the position of its first copy (log order within the batch)."""
    first: dict[str, Position] = {}
    for position, event_id in sorted(event_ids):
        first.setdefault(event_id, position)
    return first


def repeats(
    event_ids: Sequence[tuple[Position, str]], applied_before: Mapping[str, Position]
) -> frozenset[Position]:
    """Positions whose event was applied before at another position, or that repeat an
    earlier copy in the batch."""
    first = first_occurrences(event_ids)
    return frozenset(
        position
        for position, event_id in event_ids
        if applied_before.get(event_id, position) != position or first[event_id] != position
    )


def seen(conn: Any, projection: str, event_ids: Sequence[str]) -> dict[str, Position]:
    """Of event_ids, those this projection applied before: event id -> where it was applied."""
    if not event_ids:
        return {}
    rows = conn.execute(
        'SELECT event_id, topic, partition, "offset" FROM applied_events'
        " WHERE projection = %s AND event_id = ANY(%s)",
        (projection, list(event_ids)),
    ).fetchall()
    return {str(e): Position(str(t), int(p), int(o)) for e, t, p, o in rows}


def record(conn: Any, projection: str, applied: Sequence[tuple[Position, str]]) -> None:
    """Remember the ids applied by this transaction (a copy applied before is kept)."""
    if not applied:
        return
    conn.execute(
        'INSERT INTO applied_events (projection, event_id, topic, partition, "offset")'
        " SELECT %s, e, t, p, o FROM unnest(%s::text[], %s::text[], %s::int[], %s::bigint[])"
        " AS u(e, t, p, o) ON CONFLICT DO NOTHING",
        (
            projection,
            [e for _, e in applied],
            [p.log for p, _ in applied],
            [p.partition for p, _ in applied],
            [p.offset for p, _ in applied],
        ),
    )


def prune(conn: Any, projection: str, horizon_days: float, limit: int) -> int:
    """Forget at most ``limit`` ids this projection applied more than ``horizon_days`` ago,
    oldest first (through the applied_events_by_time index); how many were forgotten."""
    cursor = conn.execute(
        "DELETE FROM applied_events WHERE (projection, event_id) IN ("
        " SELECT projection, event_id FROM applied_events"
        " WHERE applied_at < now() - make_interval(secs => %s) AND projection = %s"
        " ORDER BY applied_at LIMIT %s)",
        (horizon_days * 86_400.0, projection, limit),
    )
    return int(cursor.rowcount)
