"""Read registered models and the decider's state from Postgres (parameterized SQL only).

Functions take the query service's pool (read-only REPEATABLE READ per call).
Versions, audit entries and projection progress are in registry_store_versions.py.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from psycopg import sql

from tracklog.query.auth.permissions import REGISTERED_MODEL, readable
from tracklog.query.registry.records import ModelRecord
from tracklog.query.registry.store_versions import Connection, filter_sql, versions_where
from tracklog.query.stores.postgres import Pool
from tracklog.registry.commands import ModelState, VersionState
from tracklog.registry.errors import NotFound
from tracklog.registry.filters import Clause
from tracklog.registry.stages import STAGES

# Model ids are uuid5(name) (or of name#n when taken by a renamed or deleted model):
# two concurrent creates of one name get one id, hence one Kafka key and one order.
MODEL_NAMESPACE = uuid.UUID("0b6c2f4e-3d1a-5e8b-9c7d-7472616b6c6d")


def new_model_id(pool: Pool, name: str) -> str:
    """The id a new model named `name` gets: the first of uuid5(name), uuid5(name#2), ...
    not used by a stored model."""
    with pool.connection() as conn:
        n = 1
        while True:
            candidate = uuid.uuid5(MODEL_NAMESPACE, name if n == 1 else f"{name}#{n}").hex
            row = conn.execute(
                "SELECT 1 FROM registered_models WHERE model_id = %s", (candidate,)
            ).fetchone()
            if row is None:
                return candidate
            n += 1


def model_state(pool: Pool, name: str) -> ModelState | None:
    """What the decider needs to know about the model named `name` (None: no such model)."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT model_id, last_version FROM registered_models WHERE name = %s", (name,)
        ).fetchone()
        if row is None:
            return None
        model_id, last_version = str(row[0]), int(row[1])
        versions = {
            int(v): VersionState(int(v), str(stage), str(status), str(source), str(run_id))
            for v, stage, status, source, run_id in conn.execute(
                "SELECT version, current_stage, status, source, run_id FROM model_versions"
                " WHERE model_id = %s",
                (model_id,),
            )
        }
        aliases = {
            str(a): int(v)
            for a, v in conn.execute(
                "SELECT alias, version FROM registered_model_aliases WHERE model_id = %s",
                (model_id,),
            )
        }
        keys = frozenset(
            str(k)
            for (k,) in conn.execute(
                "SELECT key FROM registered_model_tags WHERE model_id = %s", (model_id,)
            )
        )
        return ModelState(model_id, name, versions, aliases, keys, last_version)


def name_taken(pool: Pool, name: str) -> bool:
    with pool.connection() as conn:
        row = conn.execute("SELECT 1 FROM registered_models WHERE name = %s", (name,)).fetchone()
        return row is not None


_MODEL = sql.SQL(
    "SELECT m.model_id, m.name, m.description, m.creation_time, m.last_updated_time"
    " FROM registered_models m"
)


def get_model(pool: Pool, name: str) -> ModelRecord:
    with pool.connection() as conn:
        rows = conn.execute(_MODEL + sql.SQL(" WHERE m.name = %s"), (name,)).fetchall()
        if not rows:
            raise NotFound(f"registered model {name!r} not found")
        return _models(conn, rows)[0]


def search_models(
    pool: Pool, clauses: tuple[Clause, ...], limit: int, after: str | None
) -> tuple[list[ModelRecord], bool]:
    """Models matching every clause that the caller may read, ordered by name, after the
    cursor name."""
    where, args = filter_sql(clauses, with_run_id=False)
    if after is not None:
        where.append(sql.SQL("m.name > %s"))
        args.append(after)
    visible, visible_args = readable(REGISTERED_MODEL, sql.SQL("m.model_id"))  # the caller's
    where.append(visible)
    args += visible_args
    query: sql.Composable = _MODEL
    if where:
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
    query += sql.SQL(" ORDER BY m.name LIMIT %s")
    with pool.connection() as conn:
        rows = conn.execute(query, [*args, limit + 1]).fetchall()
        return _models(conn, rows[:limit]), len(rows) > limit


def _models(conn: Connection, rows: list[tuple[Any, ...]]) -> list[ModelRecord]:
    ids = [str(r[0]) for r in rows]
    if not ids:
        return []
    tags: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
    for model_id, key, value in conn.execute(
        "SELECT model_id, key, value FROM registered_model_tags WHERE model_id = ANY(%s)"
        " ORDER BY model_id, key",
        (ids,),
    ):
        tags[model_id].append((key, value))
    aliases: defaultdict[str, list[tuple[str, int]]] = defaultdict(list)
    for model_id, alias, version in conn.execute(
        "SELECT model_id, alias, version FROM registered_model_aliases WHERE model_id = ANY(%s)"
        " ORDER BY model_id, alias",
        (ids,),
    ):
        aliases[model_id].append((alias, int(version)))
    latest = versions_where(
        conn,
        sql.SQL(
            "v.model_id = ANY(%s) AND v.version = (SELECT max(w.version) FROM model_versions w"
            " WHERE w.model_id = v.model_id AND w.current_stage = v.current_stage)"
        ),
        [ids],
    )
    order = {stage: i for i, stage in enumerate(STAGES)}
    by_model: defaultdict[str, list[Any]] = defaultdict(list)
    for model_id, record in latest:
        by_model[model_id].append(record)
    return [
        ModelRecord(
            model_id=str(model_id),
            name=name,
            description=description,
            creation_time=created,
            last_updated_time=updated,
            tags=tuple(tags[model_id]),
            aliases=tuple(aliases[model_id]),
            latest_versions=tuple(
                sorted(by_model[model_id], key=lambda v: order.get(v.current_stage, 9))
            ),
        )
        for model_id, name, description, created, updated in rows
    ]
