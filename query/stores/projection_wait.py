"""Wait until the Postgres projection has applied given Kafka positions.

Shared by the registry's writes (wait for the one event just produced) and
`WaitFor` (read-your-writes: wait for every position of a client's flush token).
The ingest worker writes ClickHouse before Postgres in each batch and moves the
Postgres tracking row in the same transaction as the tracking rows' view changes,
so a tracking row past an offset means both stores hold that record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from tracklog.query.errors import DeadlineExceeded
from tracklog.query.stores.postgres import Pool

FIRST_DELAY, MAX_DELAY = 0.001, 0.005  # a poll is one indexed read


def applied_offset(pool: Pool, projection: str, log: str, partition: int) -> int:
    """The last offset of (log, partition) the projection has applied; -1 before any."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT last_offset FROM projection_offsets"
            " WHERE projection = %s AND topic = %s AND partition = %s",
            (projection, log, partition),
        ).fetchone()
    return -1 if row is None else int(row[0])


def wait_for_positions(
    pool: Pool,
    positions: Mapping[tuple[str, int], int],
    timeout: float,
    *,
    projection: str = "postgres",
    what: str = "the written events",
    active: Callable[[], bool] = lambda: True,
) -> None:
    """Return once every (log, partition) has passed its offset; DeadlineExceeded after
    ``timeout`` seconds (the message names the first position still pending), or as soon
    as ``active()`` turns false (the caller has gone: its thread is freed at once)."""
    deadline = time.monotonic() + timeout
    pending = dict(positions)
    delay = FIRST_DELAY
    while pending:
        for (log, partition), offset in list(pending.items()):
            if applied_offset(pool, projection, log, partition) >= offset:
                del pending[(log, partition)]
        if not pending:
            return
        if not active():
            raise DeadlineExceeded(f"{what}: the caller stopped waiting")
        if time.monotonic() >= deadline:
            (log, partition), offset = next(iter(pending.items()))
            raise DeadlineExceeded(
                f"{what} not applied within {timeout:g}s ({log} partition {partition} is not "
                f"yet past offset {offset}): is the ingest worker running? The write takes "
                "effect once the worker catches up"
            )
        time.sleep(delay)
        delay = min(delay * 2, MAX_DELAY)
