"""MLflow's AND-of-clauses filter over an entity's attributes and tags, parsed into SQL (pure).

The experiment search (`experiment_filter`) and the logged-model search
(`logged_model_filter`) speak the same small language and differ only in the
`FilterTarget` they parse for: which attributes exist, which column each one
reads, and how to ask whether the entity has a tag.

Clauses are joined by AND; each is an attribute (optionally prefixed `attributes.`)
or `tags.<key>` (backticks around a key with spaces: tags.`my key`), an operator
(= != LIKE ILIKE) and a quoted string, or, for a tag, `IS NULL` / `IS NOT NULL` (the
tag is absent / present). Values are always bound parameters; a bad filter is an
InvalidArgument naming the position.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from tracklog.query.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class FilterTarget:
    """What a filter is over.

    `attributes` maps each lower-case attribute name to the column it reads;
    `tag_exists` is the subquery "the entity has the tag whose key is %s", with its
    tag table aliased `t` (a value test is appended as `AND t.value <op> %s`);
    `fields` names the accepted fields in error messages. A target with
    `param_exists` (alias `p`) takes `params.<key>` as it takes tags; one with
    `metric_exists` (alias `x`, its key then `metric_args` bound) takes
    `metrics.<key> <op> <number>` (= != < <= > >=): some value of the metric compares.
    """

    attributes: Mapping[str, sql.Composable]
    tag_exists: sql.Composable
    fields: str
    param_exists: sql.Composable | None = None
    metric_exists: sql.Composable | None = None
    metric_args: tuple[Any, ...] = ()


_OPERATORS = {"=": "=", "!=": "<>", "<>": "<>", "LIKE": "LIKE", "ILIKE": "ILIKE"}
_COMPARISONS = {"=": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ATTRIBUTE_PREFIXES = ("attributes.", "attribute.")
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<op>!=|<>|<=|>=|=|<|>)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.(?:`[^`]+`|[A-Za-z0-9_.\-/]+))?))"
)

_SPACE = re.compile(r"\s*")

Tokens = list[tuple[str, str, int]]  # (kind, text, position)


def _tokens(text: str) -> Tokens:
    """The tokens of `text`, in one left-to-right pass (linear in its length)."""
    tokens: Tokens = []
    pos, end = 0, len(text)
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]  # \s* always matches
        if pos >= end:
            return tokens
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            raise InvalidArgument(
                f"invalid filter at position {pos}: unexpected {text[pos : pos + 10]!r}"
            )
        kind = match.lastgroup
        tokens.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


def parse_filter(text: str, target: FilterTarget) -> tuple[list[sql.Composable], list[Any]]:
    """SQL conditions over `target` and their arguments; all must hold."""
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
            i += _null_test(tokens, i, len(text), target, clauses, args)
            i = _after_clause(tokens, i, len(text))
            continue
        metric = _prefixed_key(field, ("metric", "metrics"))
        if metric is not None and target.metric_exists is not None:
            clauses.append(_metric_clause(metric, tokens[i + 1 : i + 3], target, args))
            i = _after_clause(tokens, i + 3, len(text))
            continue
        operator = _OPERATORS.get(op.upper()) if k2 in ("op", "ident") else None
        if operator is None:
            raise InvalidArgument(
                f"invalid filter at position {p2}: expected one of = != LIKE ILIKE, got {op!r}"
            )
        if k3 != "string":
            raise InvalidArgument(f"invalid filter at position {p3}: expected a quoted string")
        clauses.append(_clause(field, operator, p1, target, args))
        args.append(_unquote(value))
        i = _after_clause(tokens, i + 3, len(text))
    return clauses, args


def _after_clause(tokens: Tokens, i: int, end: int) -> int:
    """The index of the next clause: past an AND, or the end."""
    if i < len(tokens):
        kind, word, at = tokens[i]
        if kind != "ident" or word.upper() != "AND":
            raise InvalidArgument(f"invalid filter at position {at}: expected AND")
        i += 1
        if i == len(tokens):
            raise InvalidArgument(f"invalid filter at position {end}: expected a clause after AND")
    return i


def _prefixed_key(field: str, prefixes: tuple[str, ...]) -> str | None:
    """The key of `<prefix>.<key>` (backticks removed), or None for any other field."""
    prefix, _, key = field.partition(".")
    if prefix.lower() not in prefixes or not key:
        return None
    return key[1:-1] if key.startswith("`") else key


def _tag_key(field: str) -> str | None:
    return _prefixed_key(field, ("tag", "tags"))


def _metric_clause(key: str, rest: Tokens, target: FilterTarget, args: list[Any]) -> sql.Composable:
    """`metrics.<key> <op> <number>`: the entity has a value of the metric that compares."""
    (k2, op, p2), (k3, value, p3) = rest
    operator = _COMPARISONS.get(op) if k2 == "op" else None
    if operator is None:
        raise InvalidArgument(
            f"invalid filter at position {p2}: expected one of = != < <= > >=, got {op!r}"
        )
    if k3 != "number":
        raise InvalidArgument(f"invalid filter at position {p3}: expected a number")
    assert target.metric_exists is not None
    args += [key, *target.metric_args, float(value)]
    return sql.SQL("EXISTS ({} AND x.value {} %s)").format(target.metric_exists, sql.SQL(operator))


def clause_fields(text: str) -> list[str]:
    """The field each clause of a (valid) filter tests, in order."""
    tokens = _tokens(text)
    return [
        word
        for n, (kind, word, _) in enumerate(tokens)
        if kind == "ident" and (n == 0 or tokens[n - 1][1].upper() == "AND")
    ]


def _null_test(
    tokens: Tokens,
    i: int,
    end: int,
    target: FilterTarget,
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
    key = _tag_key(field)
    if key is None:
        raise InvalidArgument(
            f"invalid filter at position {at}: IS [NOT] NULL is for tags.<key>, got {field!r}"
        )
    args.append(key)
    exists = sql.SQL("EXISTS" if negated else "NOT EXISTS")
    clauses.append(sql.SQL("{} ({})").format(exists, target.tag_exists))
    return 4 if negated else 3


def _clause(
    field: str, operator: str, at: int, target: FilterTarget, args: list[Any]
) -> sql.Composable:
    op = sql.SQL(operator)
    name = field.lower()
    prefix = next((p for p in _ATTRIBUTE_PREFIXES if name.startswith(p)), "")
    column = target.attributes.get(name.removeprefix(prefix))
    if column is not None:
        return sql.SQL("{} {} %s").format(column, op)
    key = _tag_key(field)
    if key is not None:
        args.append(key)
        return sql.SQL("EXISTS ({} AND t.value {} %s)").format(target.tag_exists, op)
    param = _prefixed_key(field, ("param", "params"))
    if param is not None and target.param_exists is not None:
        args.append(param)
        return sql.SQL("EXISTS ({} AND p.value {} %s)").format(target.param_exists, op)
    raise InvalidArgument(
        f"invalid filter at position {at}: unknown field {field!r} ({target.fields})"
    )
