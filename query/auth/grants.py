"""Permissions in Postgres: what a caller holds on the resources a call touches, and
granting or revoking them.

A call names resources as the client knows them (an experiment's id or name, a run, a
logged model, a registered model's name); `holdings` resolves them to experiment ids
and registered model ids and reads the caller's grants on them in one query each. A
reference that resolves to nothing is left to the handler (it answers NOT_FOUND).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from tracklog.query.auth.permissions import (
    EXPERIMENT,
    GRANT_TABLES,
    REGISTERED_MODEL,
    Caller,
    Permission,
)

Conn = psycopg.Connection[Any]

# how a reference is resolved: (resource kind, SQL from the references to (ref, id) rows)
_RESOLVE: dict[str, tuple[str, str]] = {
    "experiment_id": (
        EXPERIMENT,
        "SELECT experiment_id, experiment_id FROM experiments WHERE experiment_id = ANY(%s)",
    ),
    "experiment_name": (
        EXPERIMENT,
        "SELECT name, experiment_id FROM experiments WHERE name = ANY(%s)",
    ),
    "run_id": (EXPERIMENT, "SELECT run_id, experiment_id FROM runs WHERE run_id = ANY(%s)"),
    "logged_model_id": (
        EXPERIMENT,
        "SELECT model_id, experiment_id FROM logged_models WHERE model_id = ANY(%s)",
    ),
    "model_name": (
        REGISTERED_MODEL,
        "SELECT name, model_id FROM registered_models WHERE name = ANY(%s)",
    ),
}
REFERENCE_KINDS = frozenset(_RESOLVE)
_LABELS = {
    "experiment_id": "experiment",
    "experiment_name": "experiment named",
    "run_id": "the experiment of run",
    "logged_model_id": "the experiment of logged model",
    "model_name": "registered model",
}


@dataclass(frozen=True, slots=True)
class Need:
    """A call needs `level` on each resource `refs` (of one reference kind) name."""

    reference: str  # a key of _RESOLVE
    refs: tuple[str, ...]
    level: Permission


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A resource the caller holds too little on: what it holds and what was needed."""

    what: str
    held: Permission
    needed: Permission

    def message(self, user: str) -> str:
        return (
            f"user {user!r} needs {self.needed.name} on {self.what} and holds"
            f" {self.held.name}; an admin can grant it with `tracklog permissions grant`"
        )


def shortfall(conn: Conn, caller: Caller, needs: Sequence[Need]) -> Shortfall | None:
    """The first resource the caller may not act on as the call needs, else None."""
    if caller.is_admin:
        return None
    for need in needs:
        kind, query = _RESOLVE[need.reference]
        refs = sorted({r for r in need.refs if r})
        if not refs:
            continue
        resolved = conn.execute(query, (refs,)).fetchall()
        held = _held(conn, caller, kind, {str(rid) for _, rid in resolved})
        for ref, resource_id in resolved:
            level = held.get(str(resource_id), caller.default_permission)
            if level < need.level:
                return Shortfall(f"{_LABELS[need.reference]} {ref!r}", level, need.level)
    return None


def _held(conn: Conn, caller: Caller, kind: str, ids: Iterable[str]) -> dict[str, Permission]:
    table, column = GRANT_TABLES[kind]
    query = sql.SQL("SELECT {}, permission FROM {} WHERE user_name = %s AND {} = ANY(%s)").format(
        sql.Identifier(column), sql.Identifier(table), sql.Identifier(column)
    )
    rows = conn.execute(query, (caller.name, list(ids))).fetchall()
    return {str(rid): Permission.parse(str(p)) for rid, p in rows}


def grant(conn: Conn, user: str, kind: str, resource_id: str, level: Permission) -> None:
    """Set `user`'s permission on one experiment or registered model (by id)."""
    table, column = GRANT_TABLES[kind]
    conn.execute(
        sql.SQL(
            "INSERT INTO {} ({}, user_name, permission) VALUES (%s, %s, %s)"
            " ON CONFLICT ({}, user_name) DO UPDATE SET permission = EXCLUDED.permission"
        ).format(sql.Identifier(table), sql.Identifier(column), sql.Identifier(column)),
        (resource_id, user, level.name),
    )


def revoke(conn: Conn, user: str, kind: str, resource_id: str) -> bool:
    """Remove `user`'s grant on the resource (the default permission applies again)."""
    table, column = GRANT_TABLES[kind]
    cursor = conn.execute(
        sql.SQL("DELETE FROM {} WHERE {} = %s AND user_name = %s").format(
            sql.Identifier(table), sql.Identifier(column)
        ),
        (resource_id, user),
    )
    return cursor.rowcount > 0


def grant_model_creator(conn: Conn, user: str, model_name: str) -> None:
    """MANAGE on a registered model for the user who created it (as MLflow does)."""
    row = conn.execute(
        "SELECT model_id FROM registered_models WHERE name = %s", (model_name,)
    ).fetchone()
    if row is not None:
        grant(conn, user, REGISTERED_MODEL, str(row[0]), Permission.MANAGE)


def drop_deleted_model_grants(conn: Conn) -> None:
    """Forget the grants on registered models that no longer exist (a model created later
    under the same name may get the same id, and must not inherit them)."""
    conn.execute(
        "DELETE FROM registered_model_permissions g WHERE NOT EXISTS"
        " (SELECT 1 FROM registered_models m WHERE m.model_id = g.model_id)"
    )


def resource_id(conn: Conn, kind: str, ref: str) -> str | None:
    """An experiment's id (from its id or name) or a registered model's id (from its name)."""
    if kind == EXPERIMENT:
        row = conn.execute(
            "SELECT experiment_id FROM experiments WHERE experiment_id = %s OR name = %s"
            " ORDER BY experiment_id = %s DESC LIMIT 1",
            (ref, ref, ref),
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT model_id FROM registered_models WHERE name = %s", (ref,)
        ).fetchone()
    return None if row is None else str(row[0])


def list_grants(conn: Conn, user: str | None = None) -> list[tuple[str, str, str, str]]:
    """(user, kind, resource, permission) rows: experiments by id, models by name."""
    rows = conn.execute(
        "SELECT g.user_name, 'experiment', g.experiment_id, g.permission"
        " FROM experiment_permissions g WHERE %(user)s::text IS NULL OR g.user_name = %(user)s"
        " UNION ALL SELECT g.user_name, 'model', coalesce(m.name, g.model_id), g.permission"
        " FROM registered_model_permissions g"
        " LEFT JOIN registered_models m USING (model_id)"
        " WHERE %(user)s::text IS NULL OR g.user_name = %(user)s"
        " ORDER BY 1, 2, 3",
        {"user": user},
    ).fetchall()
    return [(str(u), str(k), str(r), str(p)) for u, k, r, p in rows]
