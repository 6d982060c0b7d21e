"""Read model versions, the audit trail and the projection's progress from Postgres."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, TypeAlias

import psycopg
from psycopg import sql

from tracklog.query.auth.permissions import REGISTERED_MODEL, readable
from tracklog.query.registry.records import AuditRecord, CommandResult, VersionRecord
from tracklog.query.stores.postgres import Pool
from tracklog.registry.errors import NotFound
from tracklog.registry.filters import Clause

Connection: TypeAlias = psycopg.Connection[tuple[Any, ...]]

_VERSION = sql.SQL(
    "SELECT v.model_id, m.name, v.version, v.creation_time, v.last_updated_time, v.user_id,"
    " v.current_stage, v.description, v.source, v.run_id, v.status, v.status_message,"
    " v.logged_model_id FROM model_versions v JOIN registered_models m USING (model_id) WHERE "
)
_ORDER = sql.SQL(" ORDER BY m.name, v.version")
_TAG_MATCH = "EXISTS (SELECT 1 FROM {table} t WHERE {owner} AND t.key = %s AND t.value {op} %s)"


def filter_sql(
    clauses: tuple[Clause, ...], *, with_run_id: bool
) -> tuple[list[sql.Composable], list[Any]]:
    """WHERE conditions for parsed filter clauses (m: registered_models, v: model_versions)."""
    where: list[sql.Composable] = []
    args: list[Any] = []
    for clause in clauses:
        op = sql.SQL(clause.op)
        if clause.field == "tag":
            table, owner = "registered_model_tags", "t.model_id = m.model_id"
            if with_run_id:
                table = "model_version_tags"
                owner = "t.model_id = v.model_id AND t.version = v.version"
            where.append(
                sql.SQL(_TAG_MATCH).format(table=sql.Identifier(table), owner=sql.SQL(owner), op=op)
            )
            args += [clause.key, clause.value]
        else:
            column = sql.SQL("m.name" if clause.field == "name" else "v.run_id")
            where.append(sql.SQL("{} {} %s").format(column, op))
            args.append(clause.value)
    return where, args


def versions_where(
    conn: Connection, where: sql.Composable, args: list[Any], limit: int | None = None
) -> list[tuple[str, VersionRecord]]:
    """(model id, version) of the rows matching `where`, with tags and aliases."""
    query = _VERSION + where + _ORDER
    if limit is not None:
        query += sql.SQL(" LIMIT %s")
        args = [*args, limit]
    rows = conn.execute(query, args).fetchall()
    if not rows:
        return []
    ids = sorted({str(r[0]) for r in rows})
    tags: defaultdict[tuple[str, int], list[tuple[str, str]]] = defaultdict(list)
    for model_id, version, key, value in conn.execute(
        "SELECT model_id, version, key, value FROM model_version_tags WHERE model_id = ANY(%s)"
        " ORDER BY model_id, version, key",
        (ids,),
    ):
        tags[(model_id, version)].append((key, value))
    aliases: defaultdict[tuple[str, int], list[str]] = defaultdict(list)
    for model_id, version, alias in conn.execute(
        "SELECT model_id, version, alias FROM registered_model_aliases WHERE model_id = ANY(%s)"
        " ORDER BY alias",
        (ids,),
    ):
        aliases[(model_id, version)].append(alias)
    found = []
    for (
        model_id,
        name,
        version,
        created,
        updated,
        user,
        stage,
        text,
        source,
        run,
        st,
        msg,
        lm,
    ) in rows:
        key = (model_id, version)
        record = VersionRecord(
            name,
            int(version),
            created,
            updated,
            user,
            stage,
            text,
            source,
            run,
            st,
            msg,
            tags=tuple(tags[key]),
            aliases=tuple(aliases[key]),
            logged_model_id=lm,
        )
        found.append((str(model_id), record))
    return found


def get_version(pool: Pool, name: str, version: int) -> VersionRecord:
    with pool.connection() as conn:
        found = versions_where(conn, sql.SQL("m.name = %s AND v.version = %s"), [name, version])
        if not found:
            _model_must_exist(conn, name)
            raise NotFound(f"version {version} of registered model {name!r} not found")
        return found[0][1]


def version_by_alias(pool: Pool, name: str, alias: str) -> VersionRecord:
    with pool.connection() as conn:
        found = versions_where(
            conn,
            sql.SQL(
                "m.name = %s AND v.version = (SELECT a.version FROM registered_model_aliases a"
                " WHERE a.model_id = m.model_id AND a.alias = %s)"
            ),
            [name, alias],
        )
        if not found:
            _model_must_exist(conn, name)
            raise NotFound(f"registered model {name!r} has no alias {alias!r}")
        return found[0][1]


def latest_versions(pool: Pool, name: str, stages: tuple[str, ...]) -> list[VersionRecord]:
    """The highest version of `name` in each of `stages` (in the order given)."""
    with pool.connection() as conn:
        _model_must_exist(conn, name)
        found = versions_where(
            conn,
            sql.SQL(
                "m.name = %s AND v.current_stage = ANY(%s) AND v.version = (SELECT max(w.version)"
                " FROM model_versions w WHERE w.model_id = v.model_id"
                " AND w.current_stage = v.current_stage)"
            ),
            [name, list(stages)],
        )
    records = [record for _, record in found]
    return sorted(records, key=lambda r: stages.index(r.current_stage))


def search_versions(
    pool: Pool, clauses: tuple[Clause, ...], limit: int, after: tuple[str, int] | None
) -> tuple[list[VersionRecord], bool]:
    where, args = filter_sql(clauses, with_run_id=True)
    if after is not None:
        where.append(sql.SQL("(m.name, v.version) > (%s, %s)"))
        args += list(after)
    visible, visible_args = readable(REGISTERED_MODEL, sql.SQL("m.model_id"))  # the caller's
    where.append(visible)
    args += visible_args
    condition = sql.SQL(" AND ").join(where) if where else sql.SQL("TRUE")
    with pool.connection() as conn:
        found = versions_where(conn, condition, args, limit + 1)
    return [record for _, record in found[:limit]], len(found) > limit


def history(pool: Pool, name: str, version: int) -> list[AuditRecord]:
    """The stage and alias changes of the model named `name` (of one version unless 0)."""
    with pool.connection() as conn:
        model_id = _model_must_exist(conn, name)
        rows = conn.execute(
            "SELECT model_name, version, kind, alias, from_value, to_value, actor, at, event_id"
            " FROM registry_audit WHERE model_id = %s AND (%s = 0 OR version = %s)"
            " ORDER BY at, event_id, version, kind, alias",
            (model_id, version, version),
        ).fetchall()
    return [AuditRecord(*row) for row in rows]


def command_result(pool: Pool, event_id: str) -> CommandResult | None:
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT code, message, version FROM registry_command_results WHERE event_id = %s",
            (event_id,),
        ).fetchone()
    return None if row is None else CommandResult(str(row[0]), str(row[1]), row[2])


def _model_must_exist(conn: Connection, name: str) -> str:
    row = conn.execute("SELECT model_id FROM registered_models WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise NotFound(f"registered model {name!r} not found")
    return str(row[0])
