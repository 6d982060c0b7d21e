"""Users and their tokens in Postgres (the operator's `tracklog users` and `tracklog
tokens` commands). A token's secret is returned once by `create_token` and never stored:
only its SHA-256 is. Listing shows ids, owners and times, never a secret or a hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from tracklog.query.auth.tokens import NewToken, new_token, token_hash

Conn = psycopg.Connection[Any]


@dataclass(frozen=True, slots=True)
class User:
    name: str
    is_admin: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_id: str
    user_name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class AccountError(Exception):
    """An operator's request that cannot be done (an unknown user, a name taken)."""


def create_user(conn: Conn, name: str, *, admin: bool = False) -> User:
    name = name.strip()
    if not name:
        raise AccountError("a user name must not be empty")
    row = conn.execute(
        "INSERT INTO users (user_name, is_admin) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING RETURNING user_name, is_admin, created_at",
        (name, admin),
    ).fetchone()
    if row is None:
        raise AccountError(f"user {name!r} already exists")
    return User(*row)


def list_users(conn: Conn) -> list[User]:
    rows = conn.execute(
        "SELECT user_name, is_admin, created_at FROM users ORDER BY user_name"
    ).fetchall()
    return [User(*row) for row in rows]


def delete_user(conn: Conn, name: str) -> None:
    """Remove a user with its tokens and grants."""
    if conn.execute("DELETE FROM users WHERE user_name = %s", (name,)).rowcount == 0:
        raise AccountError(f"no user {name!r}")


def require_user(conn: Conn, name: str) -> None:
    if conn.execute("SELECT 1 FROM users WHERE user_name = %s", (name,)).fetchone() is None:
        raise AccountError(f"no user {name!r}: create it with `tracklog users create {name}`")


def create_token(conn: Conn, user: str) -> NewToken:
    """A new token for `user`; its secret is in the result and nowhere else."""
    require_user(conn, user)
    token = new_token()
    conn.execute(
        "INSERT INTO access_tokens (token_id, user_name, token_sha256) VALUES (%s, %s, %s)",
        (token.token_id, user, token_hash(token.secret)),
    )
    return token


def revoke_token(conn: Conn, token_id: str) -> None:
    cursor = conn.execute(
        "UPDATE access_tokens SET revoked_at = now() WHERE token_id = %s AND revoked_at IS NULL",
        (token_id,),
    )
    if cursor.rowcount == 0:
        raise AccountError(f"no live token with id {token_id!r} (see `tracklog tokens list`)")


def list_tokens(conn: Conn, user: str | None = None) -> list[TokenInfo]:
    rows = conn.execute(
        "SELECT token_id, user_name, created_at, revoked_at, last_used_at FROM access_tokens"
        " WHERE %(user)s::text IS NULL OR user_name = %(user)s ORDER BY user_name, created_at",
        {"user": user},
    ).fetchall()
    return [TokenInfo(*row) for row in rows]
