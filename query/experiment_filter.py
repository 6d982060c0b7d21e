"""MLflow's experiment search filter and order_by, parsed into SQL pieces (pure).

Filter: clauses joined by AND; each is `name`, `attributes.name` or `tags.<key>`
(backticks around a key with spaces: tags.`my key`), an operator (= != LIKE ILIKE)
and a quoted string, or, for a tag, `IS NULL` / `IS NOT NULL` (the tag is absent /
present: MLflow's web UI lists experiments with ``tags.`mlflow.experimentKind` IS NULL``).
Order by: `name`, `creation_time`, `last_update_time` or
`experiment_id`, each optionally ASC/DESC; experiment_id breaks ties. Values are
always bound parameters; a bad filter is an InvalidArgument naming the position.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from psycopg import sql

from tracklog.query.errors import InvalidArgument

_OPERATORS = {"=": "=", "!=": "<>", "<>": "<>", "LIKE": "LIKE", "ILIKE": "ILIKE"}
_ORDER_FIELDS = {"name", "creation_time", "last_update_time", "experiment_id"}
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<op>!=|<>|=)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.(?:`[^`]+`|[A-Za-z0-9_.\-/]+))?))"
)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            start = len(text) - len(text[pos:].lstrip())
            raise InvalidArgument(
                f"invalid filter at position {start}: unexpected {text[start : start + 10]!r}"
            )
        kind = match.lastgroup
        tokens.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return tokens


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


def parse_filter(text: str) -> tuple[list[sql.Composable], list[Any]]:
    """SQL conditions (over experiments `e`) and their arguments; all must hold."""
    tokens = _tokens(text)
    clauses: list[sql.Composable] = []
    args: list[Any] = []
    i = 0
    while i < len(tokens):
        if len(tokens) - i < 3:
            raise InvalidArgument(
                f"invalid filter at position {len(text)}: the filter ends early; expected "
                "<field> <operator> '<value>'"
            )
        (k1, field, p1), (k2, op, p2), (k3, value, p3) = tokens[i : i + 3]
        if k1 != "ident":
            raise InvalidArgument(f"invalid filter at position {p1}: expected a field name")
        if k2 == "ident" and op.upper() == "IS":
            i += _null_test(tokens, i, len(text), clauses, args)
            i = _after_clause(tokens, i, len(text))
            continue
        operator = _OPERATORS.get(op.upper()) if k2 in ("op", "ident") else None
        if operator is None:
            raise InvalidArgument(
                f"invalid filter at position {p2}: expected one of = != LIKE ILIKE, got {op!r}"
            )
        if k3 != "string":
            raise InvalidArgument(f"invalid filter at position {p3}: expected a quoted string")
        clauses.append(_clause(field, operator, p1, args))
        args.append(_unquote(value))
        i = _after_clause(tokens, i + 3, len(text))
    return clauses, args


def _after_clause(tokens: list[tuple[str, str, int]], i: int, end: int) -> int:
    """The index of the next clause: past an AND, or the end."""
    if i < len(tokens):
        kind, word, at = tokens[i]
        if kind != "ident" or word.upper() != "AND":
            raise InvalidArgument(f"invalid filter at position {at}: expected AND")
        i += 1
        if i == len(tokens):
            raise InvalidArgument(f"invalid filter at position {end}: expected a clause after AND")
    return i


def _null_test(
    tokens: list[tuple[str, str, int]],
    i: int,
    end: int,
    clauses: list[sql.Composable],
    args: list[Any],
) -> int:
    """`tags.<key> IS [NOT] NULL` at tokens[i]: appends the clause, returns its length."""
    (_, field, at), _ = tokens[i : i + 2]
    words = [word.upper() if kind == "ident" else "" for kind, word, _ in tokens[i + 2 : i + 4]]
    negated = words[:1] == ["NOT"]
    if words[int(negated) : int(negated) + 1] != ["NULL"]:
        where = tokens[i + 2 + int(negated)][2] if len(tokens) > i + 2 + int(negated) else end
        raise InvalidArgument(f"invalid filter at position {where}: expected NULL after IS")
    prefix, _, key = field.partition(".")
    if prefix.lower() not in ("tag", "tags") or not key:
        raise InvalidArgument(
            f"invalid filter at position {at}: IS [NOT] NULL is for tags.<key>, got {field!r}"
        )
    args.append(key[1:-1] if key.startswith("`") else key)
    clauses.append(
        sql.SQL(
            "{} (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id"
            " AND t.key = %s)"
        ).format(sql.SQL("EXISTS" if negated else "NOT EXISTS"))
    )
    return 4 if negated else 3


def _clause(field: str, operator: str, at: int, args: list[Any]) -> sql.Composable:
    op = sql.SQL(operator)
    lowered = field.lower()
    if lowered in ("name", "attribute.name", "attributes.name"):
        return sql.SQL("e.name {} %s").format(op)
    prefix, _, key = field.partition(".")
    if prefix.lower() in ("tag", "tags") and key:
        args.append(key[1:-1] if key.startswith("`") else key)
        return sql.SQL(
            "EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id"
            " AND t.key = %s AND t.value {} %s)"
        ).format(op)
    raise InvalidArgument(
        f"invalid filter at position {at}: unknown field {field!r} (name or tags.<key>)"
    )


def parse_order_by(items: Sequence[str]) -> sql.Composable:
    """ORDER BY terms; the default is newest first (creation_time DESC)."""
    terms: list[sql.Composable] = []
    for item in items:
        words = item.split()
        if not 1 <= len(words) <= 2:
            raise InvalidArgument(f"invalid order_by {item!r}: expected '<field> [ASC|DESC]'")
        field = words[0].removeprefix("attributes.").removeprefix("attribute.").lower()
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if field not in _ORDER_FIELDS or direction not in ("ASC", "DESC"):
            raise InvalidArgument(
                f"invalid order_by {item!r}: fields {sorted(_ORDER_FIELDS)}, then ASC or DESC"
            )
        terms.append(sql.SQL("e.{} {}").format(sql.Identifier(field), sql.SQL(direction)))
    if not terms:
        terms.append(sql.SQL("e.creation_time DESC"))
    terms.append(sql.SQL("e.experiment_id ASC"))
    return sql.SQL(", ").join(terms)
