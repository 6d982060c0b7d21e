"""Last-writer-wins tags (and aliases) with tombstones, for every tag table of the read model.

A tag row keeps the order key (ingest/projectors/order.py) of the event that set it; a set
takes effect only if its key is at least the row's and at least the tombstone's of the same
tag; a delete removes the row only if its key is at least the row's, and always leaves a
tombstone (lww_tombstones) holding the greatest delete key, so that an older set arriving
later does not bring the tag back. Equal keys go to the later event in the log. Runs
inside the batch transaction of ingest/writers/postgres.py.

Tombstones are kept for the dedup horizon (`prune_tombstones`, TRACKLOG_DEDUP_HORIZON_DAYS,
by the delete's own time, the order key's occurred_at): a tombstone only matters against a
set older than its delete arriving later, and events older than the horizon are not sent
by the SDK's spool (TRACKLOG_SPOOL_MAX_AGE_DAYS) short of a deliberate `tracklog spool
resend`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

Cursor = psycopg.Cursor[tuple[Any, ...]]
# (owner column values, key, value, order key) of a set; (owner, key, order key) of a delete
TagSet = tuple[tuple[Any, ...], str, str, str]
TagDelete = tuple[tuple[Any, ...], str, str]


def tombstone_owner(owner: tuple[Any, ...]) -> str:
    """How lww_tombstones names an owner: its ids joined by '/' (model id/version)."""
    return "/".join(str(part) for part in owner)


def set_tags(cur: Cursor, table: str, owner_columns: Sequence[str], rows: Sequence[TagSet]) -> None:
    """Upsert the tags whose order key is not older than the stored row or its tombstone."""
    if not rows:
        return
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in owner_columns)
    marks = sql.SQL(", ").join(sql.Placeholder() for _ in owner_columns)
    query = sql.SQL(
        "INSERT INTO {table} AS t ({columns}, key, value, order_key)"
        " SELECT {marks}, %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM lww_tombstones b"
        " WHERE b.kind = %s AND b.owner = %s AND b.key = %s AND b.order_key > %s)"
        " ON CONFLICT ({columns}, key) DO UPDATE"
        " SET value = excluded.value, order_key = excluded.order_key"
        " WHERE excluded.order_key >= t.order_key"
    ).format(table=sql.Identifier(table), columns=columns, marks=marks)
    cur.executemany(
        query,
        [
            (*owner, key, value, order, table, tombstone_owner(owner), key, order)
            for owner, key, value, order in rows
        ],
    )


def delete_tags(
    cur: Cursor, table: str, owner_columns: Sequence[str], rows: Sequence[TagDelete]
) -> None:
    """Delete the tags not set by a later event; leave a tombstone for each."""
    if not rows:
        return
    where = sql.SQL(" AND ").join(
        sql.SQL("{} = %s").format(sql.Identifier(c)) for c in owner_columns
    )
    query = sql.SQL("DELETE FROM {table} WHERE {where} AND key = %s AND order_key <= %s").format(
        table=sql.Identifier(table), where=where
    )
    cur.executemany(query, [(*owner, key, order) for owner, key, order in rows])
    bury(cur, table, [(tombstone_owner(owner), key, order) for owner, key, order in rows])


def bury(cur: Cursor, kind: str, rows: Sequence[tuple[str, str, str]]) -> None:
    """Record (owner, key, order key) tombstones of `kind`, keeping the latest per tag."""
    if not rows:
        return
    cur.executemany(
        "INSERT INTO lww_tombstones AS b (kind, owner, key, order_key) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (kind, owner, key) DO UPDATE SET order_key = excluded.order_key"
        " WHERE excluded.order_key > b.order_key",
        [(kind, owner, key, order) for owner, key, order in sorted(rows)],
    )


def buried_after(cur: Cursor, kind: str, owner: tuple[Any, ...], key: str, order: str) -> bool:
    """Whether a delete later than `order` left a tombstone for this tag or alias."""
    row = cur.execute(
        "SELECT 1 FROM lww_tombstones WHERE kind = %s AND owner = %s AND key = %s"
        " AND order_key > %s",
        (kind, tombstone_owner(owner), key, order),
    ).fetchone()
    return row is not None


def prune_tombstones(conn: Any, horizon_days: float, limit: int) -> int:
    """Forget at most ``limit`` tombstones whose delete happened (by its order key's
    occurred_at) more than ``horizon_days`` ago; how many were forgotten."""
    cursor = conn.execute(
        "DELETE FROM lww_tombstones WHERE ctid IN (SELECT ctid FROM lww_tombstones"
        " WHERE order_key < lpad((floor(extract(epoch FROM now()) - %s)::bigint)::text, 12, '0')"
        " LIMIT %s)",
        (horizon_days * 86_400.0, limit),
    )
    return int(cursor.rowcount)
