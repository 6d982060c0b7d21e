"""`tracklog users`, `tracklog tokens` and `tracklog permissions`: who may call the query
service (operator commands: they write Postgres directly, at TRACKLOG_POSTGRES_DSN, and
so need the database's credentials rather than a token; tracklog[server]).

`tokens create` prints the new token once, on stdout alone (`export TRACKLOG_TOKEN=$(...)`
works); no command prints it again, or its hash.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from tracklog.contract.settings import PERMISSION_NAMES, Settings
from tracklog.deploy.cli.failures import CliFailure, ExitCode, require_server
from tracklog.deploy.cli.models import table

KINDS = {"experiment": "experiment", "model": "registered_model"}


@contextmanager
def _database() -> Iterator[Any]:
    """An autocommit connection to the read model, its schema brought up to date."""
    require_server("`tracklog users / tokens / permissions`")
    import psycopg

    from tracklog.contract.read_model.postgres_schema import migrate

    dsn = Settings.from_env().postgres_dsn
    if not dsn:
        raise CliFailure(
            ExitCode.USAGE,
            "TRACKLOG_POSTGRES_DSN is not set",
            "set it to the read model's database (the one the query service uses)",
        )
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn)
        yield conn


@contextmanager
def _accounts() -> Iterator[Any]:
    """The database, with account errors as one-line failures."""
    from tracklog.query.auth.accounts import AccountError

    with _database() as conn:
        try:
            yield conn
        except AccountError as error:
            code = ExitCode.NOT_FOUND if str(error).startswith("no ") else ExitCode.FAILED
            raise CliFailure(code, str(error)) from error


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def cmd_users_create(args: argparse.Namespace) -> int:
    from tracklog.query.auth import accounts

    with _accounts() as conn:
        user = accounts.create_user(conn, args.name, admin=args.admin)
    print(f"created user {user.name}{' (admin)' if user.is_admin else ''}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from tracklog.query.auth import accounts

    with _accounts() as conn:
        users = accounts.list_users(conn)
    rows = [[u.name, "yes" if u.is_admin else "no", _when(u.created_at)] for u in users]
    print(table(["USER", "ADMIN", "CREATED (UTC)"], rows))
    return 0


def cmd_users_delete(args: argparse.Namespace) -> int:
    from tracklog.query.auth import accounts

    with _accounts() as conn:
        accounts.delete_user(conn, args.name)
    print(f"deleted user {args.name} with its tokens and permissions")
    return 0


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from tracklog.query.auth import accounts

    with _accounts() as conn:
        token = accounts.create_token(conn, args.user)
    print(
        f"token {token.token_id} for {args.user}; it is shown only now: keep it as TRACKLOG_TOKEN",
        file=sys.stderr,
    )
    print(token.secret)
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from tracklog.query.auth import accounts

    with _accounts() as conn:
        tokens = accounts.list_tokens(conn, args.user)
    rows = [
        [t.token_id, t.user_name, _when(t.created_at), _when(t.last_used_at), _when(t.revoked_at)]
        for t in tokens
    ]
    print(table(["ID", "USER", "CREATED (UTC)", "LAST USED", "REVOKED"], rows))
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from tracklog.query.auth import accounts

    with _accounts() as conn:
        accounts.revoke_token(conn, args.token_id)
    print(f"revoked token {args.token_id}")
    return 0


def _resource(conn: Any, kind: str, ref: str) -> str:
    from tracklog.query.auth.grants import resource_id

    found = resource_id(conn, KINDS[kind], ref)
    if found is None:
        what = "experiment (by id or name)" if kind == "experiment" else "registered model"
        raise CliFailure(ExitCode.NOT_FOUND, f"no {what} {ref!r}")
    return found


def cmd_permissions_grant(args: argparse.Namespace) -> int:
    from tracklog.query.auth import accounts, grants
    from tracklog.query.auth.permissions import Permission

    level = Permission.parse(args.level)
    with _accounts() as conn:
        accounts.require_user(conn, args.user)
        grants.grant(conn, args.user, KINDS[args.kind], _resource(conn, args.kind, args.ref), level)
    print(f"{args.user} holds {level.name} on {args.kind} {args.ref}")
    return 0


def cmd_permissions_revoke(args: argparse.Namespace) -> int:
    from tracklog.query.auth import grants

    with _accounts() as conn:
        resource = _resource(conn, args.kind, args.ref)
        removed = grants.revoke(conn, args.user, KINDS[args.kind], resource)
    held = "removed" if removed else "there was none"
    print(f"grant of {args.user} on {args.kind} {args.ref}: {held} (the default applies)")
    return 0


def cmd_permissions_list(args: argparse.Namespace) -> int:
    from tracklog.query.auth import grants

    with _accounts() as conn:
        rows = grants.list_grants(conn, args.user)
    print(table(["USER", "KIND", "RESOURCE", "PERMISSION"], rows))
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="users of the query service (operator, via Postgres)")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    create = users_sub.add_parser("create", help="add a user")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true", help="may read and change everything")
    create.set_defaults(func=cmd_users_create)
    users_sub.add_parser("list", help="list users").set_defaults(func=cmd_users_list)
    delete = users_sub.add_parser("delete", help="remove a user, its tokens and permissions")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_users_delete)

    tokens = sub.add_parser("tokens", help="bearer tokens (TRACKLOG_TOKEN) of users")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", required=True)
    new = tokens_sub.add_parser("create", help="make a token for USER (printed once)")
    new.add_argument("user")
    new.set_defaults(func=cmd_tokens_create)
    listing = tokens_sub.add_parser("list", help="list tokens (ids, never the tokens)")
    listing.add_argument("--user", default=None, help="only this user's")
    listing.set_defaults(func=cmd_tokens_list)
    revoke = tokens_sub.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id")
    revoke.set_defaults(func=cmd_tokens_revoke)

    permissions = sub.add_parser(
        "permissions", help="permissions of users on experiments and registered models"
    )
    perm_sub = permissions.add_subparsers(dest="permissions_command", required=True)
    grant = perm_sub.add_parser("grant", help="set USER's permission on one resource")
    revoke_grant = perm_sub.add_parser("revoke", help="remove it (the default applies)")
    for parser in (grant, revoke_grant):
        parser.add_argument("user")
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("ref", help="an experiment's id or name, a registered model's name")
    grant.add_argument("level", choices=PERMISSION_NAMES, type=str.upper)
    grant.set_defaults(func=cmd_permissions_grant)
    revoke_grant.set_defaults(func=cmd_permissions_revoke)
    shown = perm_sub.add_parser("list", help="list explicit grants")
    shown.add_argument("--user", default=None, help="only this user's")
    shown.set_defaults(func=cmd_permissions_list)
