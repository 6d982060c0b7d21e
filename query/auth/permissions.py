"""Permission levels, the caller of the current call, and what a search may return.

The interceptor sets `CALLER` for the duration of each authenticated call (in the
thread that runs the handler); with authentication off it stays None and every
check passes. `readable` is the SQL condition a search adds so that its results hold
only the experiments or registered models the caller may read: an admin reads all;
anyone else by their grant on the resource, else the default permission.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from psycopg import sql


class Permission(IntEnum):
    """What a user may do to one experiment or registered model (each level includes
    the ones below it)."""

    NO_PERMISSIONS = 0
    READ = 1
    EDIT = 2
    MANAGE = 3

    @classmethod
    def parse(cls, name: str) -> Permission:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            known = ", ".join(p.name for p in cls)
            raise ValueError(f"unknown permission {name!r}: use one of {known}") from None

    def allowed_names(self) -> list[str]:
        """The names of the levels that satisfy this one (itself and the stronger ones)."""
        return [p.name for p in Permission if p >= self]


EXPERIMENT = "experiment"
REGISTERED_MODEL = "registered_model"
# resource kind -> (grant table, its id column)
GRANT_TABLES: dict[str, tuple[str, str]] = {
    EXPERIMENT: ("experiment_permissions", "experiment_id"),
    REGISTERED_MODEL: ("registered_model_permissions", "model_id"),
}


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated user, and the permission it holds where it has no grant."""

    name: str
    is_admin: bool
    default_permission: Permission


CALLER: ContextVar[Caller | None] = ContextVar("tracklog_query_caller", default=None)


def current_caller() -> Caller | None:
    """The authenticated caller of this call; None when authentication is off."""
    return CALLER.get()


def actor(requested: str) -> str:
    """Who a registry change is recorded as: the authenticated caller when there is one
    (the request's own `actor` field is then ignored), else what the client sent."""
    caller = CALLER.get()
    return caller.name if caller is not None else requested


def readable(kind: str, id_column: sql.Composable) -> tuple[sql.Composable, list[Any]]:
    """A condition (and its arguments) true for the rows of `kind` the caller may read;
    `id_column` names the resource id in the search's query (e.g. ``e.experiment_id``)."""
    caller = CALLER.get()
    if caller is None or caller.is_admin:
        return sql.SQL("TRUE"), []
    table, column = GRANT_TABLES[kind]
    condition = sql.SQL(
        "coalesce((SELECT g.permission FROM {} g WHERE g.{} = {} AND g.user_name = %s), %s)"
        " = ANY(%s)"
    ).format(sql.Identifier(table), sql.Identifier(column), id_column)
    args = [caller.name, caller.default_permission.name, Permission.READ.allowed_names()]
    return condition, args
