"""Bearer tokens: made at random, stored only as a SHA-256, checked on every call.

A token is ``tlk_`` and 43 URL-safe characters (256 random bits): hashing it without a
salt is safe because it cannot be guessed, and lets a call find its row by the hash.
Each token also has a short public id (`token_id`) to list and revoke it by.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg

from tracklog.query.auth.permissions import Caller, Permission

PREFIX = "tlk_"


@dataclass(frozen=True, slots=True)
class NewToken:
    token_id: str
    secret: str  # shown once, never stored


def new_token() -> NewToken:
    return NewToken(token_id=secrets.token_hex(6), secret=PREFIX + secrets.token_urlsafe(32))


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer_token(metadata: Any) -> str | None:
    """The token of an ``authorization: Bearer <token>`` metadata entry, else None."""
    for key, value in metadata or ():
        if key.lower() == "authorization":
            scheme, _, token = str(value).partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def authenticate(conn: psycopg.Connection[Any], secret: str, default: Permission) -> Caller | None:
    """The user a live (not revoked) token belongs to, else None; notes when it was used
    (at most once a minute, so that a busy client does not write on every call)."""
    row = conn.execute(
        "SELECT t.token_id, u.user_name, u.is_admin FROM access_tokens t"
        " JOIN users u USING (user_name)"
        " WHERE t.token_sha256 = %s AND t.revoked_at IS NULL",
        (token_hash(secret),),
    ).fetchone()
    if row is None:
        return None
    token_id, name, is_admin = row
    conn.execute(
        "UPDATE access_tokens SET last_used_at = now() WHERE token_id = %s"
        " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        (token_id,),
    )
    return Caller(str(name), bool(is_admin), default)
