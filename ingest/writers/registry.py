"""Step 6 for registry events: apply RegistryOps, in log order, inside the batch transaction.

Each op is applied once: its event id goes into registry_command_results with the outcome
(OK, plus the version number a create allocated, or the conflict the projection saw, e.g.
a name taken by a concurrent create), and an event id already there is skipped, so a
replay changes nothing even without the tracking rows. Version numbers come from the
model row's counter (`last_version + 1`): one model's events share one partition and are
applied in offset order, so the numbers are the same on every replay.

Tags, descriptions, stages and aliases are last-writer-wins by the events' order keys
(ingest/projectors/order.py): each row keeps the key of the change it holds, deleted tags
and aliases leave tombstones (ordered_tags.py). A tag or description change older than
the stored one is skipped (recorded OK: a later write replaced it, as it would have had
the events arrived in order). A stage transition or an alias change meets the registry's
rules again (tracklog.registry.decider) against the state it finds, and is refused with
FAILED_PRECONDITION when a later change of the same stage or alias is already applied:
refusals are recorded in registry_command_results, never applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from tracklog.ingest.projectors.registry import (
    AliasChanged,
    DescriptionChanged,
    ModelCreated,
    ModelDeleted,
    ModelRenamed,
    RegistryOp,
    StageChanged,
    StatusChanged,
    TagChanged,
    VersionCreated,
    VersionDeleted,
)
from tracklog.ingest.writers import ordered_tags
from tracklog.registry import commands, decider, stages
from tracklog.registry.errors import FailedPrecondition, RegistryError

Cursor = psycopg.Cursor[tuple[Any, ...]]
OK = "OK"


class Conflict(Exception):
    """The op cannot apply to the state it meets; recorded, not raised further."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def apply(conn: psycopg.Connection[tuple[Any, ...]], ops: Sequence[RegistryOp]) -> None:
    """Apply the ops not applied before (call inside the batch transaction)."""
    with conn.cursor() as cur:
        for op in ops:
            seen = cur.execute(
                "SELECT 1 FROM registry_command_results WHERE event_id = %s", (op.event_id,)
            ).fetchone()
            if seen is not None:
                continue
            code, message, version = OK, "", None
            try:
                version = _apply(cur, op)
            except Conflict as conflict:
                code, message = conflict.code, conflict.message
            cur.execute(
                "INSERT INTO registry_command_results (event_id, model_id, code, message, version)"
                " VALUES (%s, %s, %s, %s, %s)",
                (op.event_id, op.model_id, code, message, version),
            )


def _apply(cur: Cursor, op: RegistryOp) -> int | None:
    change = op.change
    if isinstance(change, ModelCreated):
        _create_model(cur, op, change)
        return None
    name = _lock_model(cur, op)
    if isinstance(change, VersionCreated):
        return _create_version(cur, op, name, change)
    if isinstance(change, ModelRenamed):
        _ensure_free(cur, change.new_name)
        cur.execute(
            "UPDATE registered_models SET name = %s WHERE model_id = %s",
            (change.new_name, op.model_id),
        )
    elif isinstance(change, ModelDeleted):
        for table in _MODEL_TABLES:
            cur.execute(f"DELETE FROM {table} WHERE model_id = %s", (op.model_id,))
        return None
    elif isinstance(change, DescriptionChanged) and change.version is None:
        cur.execute(
            "UPDATE registered_models SET description = %s, description_order = %s"
            " WHERE model_id = %s AND description_order <= %s",
            (change.description, op.order, op.model_id, op.order),
        )
    elif isinstance(change, TagChanged) and change.version is None:
        _change_tag(cur, op, "registered_model_tags", (op.model_id,), change.key, change.value)
    elif isinstance(change, AliasChanged):
        _change_alias(cur, op, name, change)
    else:
        _change_version(cur, op, name, change)
    cur.execute(
        "UPDATE registered_models SET last_updated_time = %s WHERE model_id = %s",
        (op.at, op.model_id),
    )
    return None


_MODEL_TABLES = (
    "registered_model_aliases",
    "model_version_tags",
    "model_versions",
    "registered_model_tags",
    "registered_models",
)


def _create_model(cur: Cursor, op: RegistryOp, change: ModelCreated) -> None:
    taken = cur.execute(
        "SELECT 1 FROM registered_models WHERE model_id = %s", (op.model_id,)
    ).fetchone()
    if taken is not None:
        raise Conflict("ALREADY_EXISTS", f"registered model {change.name!r} already exists")
    _ensure_free(cur, change.name)
    cur.execute(
        "INSERT INTO registered_models (model_id, name, description, creation_time,"
        " last_updated_time, description_order) VALUES (%s, %s, %s, %s, %s, %s)",
        (op.model_id, change.name, change.description, op.at, op.at, op.order),
    )
    for key, value in change.tags:
        _change_tag(cur, op, "registered_model_tags", (op.model_id,), key, value)


def _ensure_free(cur: Cursor, name: str) -> None:
    if cur.execute("SELECT 1 FROM registered_models WHERE name = %s", (name,)).fetchone():
        raise Conflict("ALREADY_EXISTS", f"registered model {name!r} already exists")


def _lock_model(cur: Cursor, op: RegistryOp) -> str:
    row = cur.execute(
        "SELECT name FROM registered_models WHERE model_id = %s FOR UPDATE", (op.model_id,)
    ).fetchone()
    if row is None:
        raise Conflict("NOT_FOUND", f"registered model {op.model_id} not found (deleted?)")
    return str(row[0])


def _create_version(cur: Cursor, op: RegistryOp, name: str, change: VersionCreated) -> int:
    row = cur.execute(
        "UPDATE registered_models SET last_version = last_version + 1, last_updated_time = %s"
        " WHERE model_id = %s RETURNING last_version",
        (op.at, op.model_id),
    ).fetchone()
    assert row is not None  # the model row is locked by _lock_model
    version = int(row[0])
    cur.execute(
        "INSERT INTO model_versions (model_id, version, source, run_id, description, user_id,"
        " status, creation_time, last_updated_time, created_event_id, logged_model_id,"
        " description_order, stage_order, current_stage) VALUES (%s, %s, %s, %s, %s, %s, %s,"
        " %s, %s, %s, %s, %s, %s, %s)",
        (
            op.model_id,
            version,
            change.source,
            change.run_id,
            change.description,
            op.actor,
            change.status,
            op.at,
            op.at,
            op.event_id,
            change.logged_model_id,
            op.order,
            op.order,
            change.stage,
        ),
    )
    for key, value in change.tags:
        _change_tag(cur, op, "model_version_tags", (op.model_id, version), key, value)
    if change.stage != stages.NONE:  # an import's version, created in its stage
        _audit(cur, op, name, version, "STAGE", "", stages.NONE, change.stage)
    return version


def _version_state(
    cur: Cursor, op: RegistryOp, name: str, version: int
) -> tuple[commands.VersionState, str]:
    """The version as the registry's rules see it, and the order key of its stage."""
    row = cur.execute(
        "SELECT current_stage, status, stage_order FROM model_versions"
        " WHERE model_id = %s AND version = %s",
        (op.model_id, version),
    ).fetchone()
    if row is None:
        raise Conflict("NOT_FOUND", f"version {version} of registered model {name!r} not found")
    return commands.VersionState(version, str(row[0]), str(row[1])), str(row[2])


def _recheck(command: commands.Command, model: commands.ModelState) -> None:
    """Apply the registry's rules to the state the projection meets; a Conflict if refused."""
    try:
        decider.decide(command, model)
    except RegistryError as refused:
        raise Conflict(refused.code, str(refused)) from None


def _superseded(what: str) -> Conflict:
    message = f"{what} was changed by a later event already applied; this older change is refused"
    return Conflict(FailedPrecondition.code, message)


def _change_version(
    cur: Cursor,
    op: RegistryOp,
    name: str,
    change: DescriptionChanged | TagChanged | VersionDeleted | StageChanged | StatusChanged,
) -> None:
    version = change.version
    assert version is not None  # model-level changes are handled by the caller
    key = (op.model_id, version)
    state, stage_order = _version_state(cur, op, name, version)
    if isinstance(change, TagChanged):
        _change_tag(cur, op, "model_version_tags", key, change.key, change.value)
    elif isinstance(change, VersionDeleted):
        aliases = cur.execute(
            "SELECT alias FROM registered_model_aliases WHERE model_id = %s AND version = %s"
            " ORDER BY alias",
            key,
        ).fetchall()
        for (alias,) in aliases:
            _audit(cur, op, name, version, "ALIAS", str(alias), str(version), "")
        buried = [(op.model_id, str(alias), op.order) for (alias,) in aliases]
        ordered_tags.bury(cur, "registered_model_aliases", buried)
        for table in ("registered_model_aliases", "model_version_tags", "model_versions"):
            cur.execute(f"DELETE FROM {table} WHERE model_id = %s AND version = %s", key)
        return
    elif isinstance(change, DescriptionChanged):
        cur.execute(
            "UPDATE model_versions SET description = %s, description_order = %s"
            " WHERE model_id = %s AND version = %s AND description_order <= %s",
            (change.description, op.order, *key, op.order),
        )
    elif isinstance(change, StatusChanged):
        cur.execute(
            "UPDATE model_versions SET status = %s, status_message = %s"
            " WHERE model_id = %s AND version = %s",
            (change.status, change.message, *key),
        )
    else:
        where = f"the stage of version {version} of registered model {name!r}"
        if stage_order > op.order:
            raise _superseded(where)
        model = commands.ModelState(op.model_id, name, {version: state})
        command = commands.TransitionStage(
            name, version, change.stage, change.archive_existing_versions
        )
        _recheck(command, model)
        _transition(cur, op, name, change, state.stage)
    cur.execute(
        "UPDATE model_versions SET last_updated_time = %s WHERE model_id = %s AND version = %s",
        (op.at, *key),
    )


def _transition(cur: Cursor, op: RegistryOp, name: str, change: StageChanged, old: str) -> None:
    archive = change.archive_existing_versions and change.stage in stages.ACTIVE_STAGES
    if archive:
        others = cur.execute(
            "UPDATE model_versions SET current_stage = %s, last_updated_time = %s,"
            " stage_order = %s WHERE model_id = %s AND current_stage = %s AND version <> %s"
            " AND stage_order <= %s RETURNING version",
            (stages.ARCHIVED, op.at, op.order, op.model_id, change.stage, change.version, op.order),
        ).fetchall()
        for (other,) in sorted(others):
            _audit(cur, op, name, int(other), "STAGE", "", change.stage, stages.ARCHIVED)
    cur.execute(
        "UPDATE model_versions SET current_stage = %s, stage_order = %s"
        " WHERE model_id = %s AND version = %s",
        (change.stage, op.order, op.model_id, change.version),
    )
    _audit(cur, op, name, change.version, "STAGE", "", old, change.stage)


def _change_alias(cur: Cursor, op: RegistryOp, name: str, change: AliasChanged) -> None:
    row = cur.execute(
        "SELECT version, order_key FROM registered_model_aliases"
        " WHERE model_id = %s AND alias = %s",
        (op.model_id, change.alias),
    ).fetchone()
    old = "" if row is None else str(row[0])
    where = f"alias {change.alias!r} of registered model {name!r}"
    if (row is not None and str(row[1]) > op.order) or ordered_tags.buried_after(
        cur, "registered_model_aliases", (op.model_id,), change.alias, op.order
    ):
        raise _superseded(where)
    if change.version is None:
        if row is None:
            raise Conflict("NOT_FOUND", f"registered model {name!r} has no alias {change.alias!r}")
        cur.execute(
            "DELETE FROM registered_model_aliases WHERE model_id = %s AND alias = %s",
            (op.model_id, change.alias),
        )
        ordered_tags.bury(cur, "registered_model_aliases", [(op.model_id, change.alias, op.order)])
        _audit(cur, op, name, int(old), "ALIAS", change.alias, old, "")
        return
    state, _ = _version_state(cur, op, name, change.version)  # the target must exist
    model = commands.ModelState(op.model_id, name, {change.version: state})
    _recheck(commands.SetAlias(name, change.alias, change.version), model)
    cur.execute(
        "INSERT INTO registered_model_aliases (model_id, alias, version, order_key)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (model_id, alias)"
        " DO UPDATE SET version = excluded.version, order_key = excluded.order_key",
        (op.model_id, change.alias, change.version, op.order),
    )
    _audit(cur, op, name, change.version, "ALIAS", change.alias, old, str(change.version))


def _change_tag(
    cur: Cursor, op: RegistryOp, table: str, owner: tuple[Any, ...], key: str, value: str | None
) -> None:
    columns = ("model_id",) if len(owner) == 1 else ("model_id", "version")
    if value is None:
        ordered_tags.delete_tags(cur, table, columns, [(owner, key, op.order)])
    else:
        ordered_tags.set_tags(cur, table, columns, [(owner, key, value, op.order)])


def _audit(
    cur: Cursor,
    op: RegistryOp,
    name: str,
    version: int,
    kind: str,
    alias: str,
    before: str,
    after: str,
) -> None:
    cur.execute(
        "INSERT INTO registry_audit (event_id, model_id, model_name, version, kind, alias,"
        " from_value, to_value, actor, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (op.event_id, op.model_id, name, version, kind, alias, before, after, op.actor, op.at),
    )
