"""MLflow-style search filters for models and versions, parsed into typed clauses.

Grammar: `clause (AND clause)*`, a clause being `<field> <op> <'value'>` where field is
`name`, `run_id` (versions only) or `tags.<key>` (or `tag.<key>`, as MLflow; backquote
keys with spaces), and op is
`=`, `!=`, `LIKE` or `ILIKE` (`=` and `!=` only for run_id and tags).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tracklog.registry.errors import InvalidArgument

MODEL_FIELDS = ("name",)
VERSION_FIELDS = ("name", "run_id")
_OPS = {"=": "=", "!=": "!=", "LIKE": "LIKE", "ILIKE": "ILIKE"}
_CLAUSE = re.compile(
    r"""\s*(?P<field>tags?\.`[^`]+`|tags?\.[\w.\-]+|\w+)\s*
        (?P<op>!=|=|(?i:ilike)\b|(?i:like)\b)\s*
        (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*""",
    re.VERBOSE,
)
_AND = re.compile(r"(?i)and\b")


@dataclass(frozen=True, slots=True)
class Clause:
    field: str  # "name", "run_id" or "tag"
    op: str  # "=", "!=", "LIKE", "ILIKE"
    value: str
    key: str = ""  # the tag key when field == "tag"


def parse(text: str, fields: tuple[str, ...]) -> tuple[Clause, ...]:
    """The clauses of a filter string (empty for an empty string) or InvalidArgument."""
    clauses: list[Clause] = []
    pos, text = 0, text.strip()
    while pos < len(text):
        if clauses:
            joiner = _AND.match(text, pos)
            if joiner is None:
                raise InvalidArgument(f"invalid filter {text!r}: expected AND at {text[pos:]!r}")
            pos = joiner.end()
        match = _CLAUSE.match(text, pos)
        if match is None:
            raise InvalidArgument(
                f"invalid filter {text!r} at {text[pos:]!r}: expected "
                "<field> <=|!=|LIKE|ILIKE> '<value>'"
            )
        clauses.append(
            _clause(match.group("field"), match.group("op"), match.group("value"), fields)
        )
        pos = match.end()
    return tuple(clauses)


def _clause(field: str, op: str, quoted: str, fields: tuple[str, ...]) -> Clause:
    op = _OPS[op.upper()]
    value = re.sub(r"\\(.)", r"\1", quoted[1:-1])
    if field.startswith(("tags.", "tag.")):
        key = field.split(".", 1)[1].strip("`")
        if op not in ("=", "!="):
            raise InvalidArgument(f"tags support only = and != in filters, got {op} on {field}")
        return Clause("tag", op, value, key)
    if field not in fields:
        raise InvalidArgument(
            f"invalid filter field {field!r}: expected one of {', '.join(fields)} or tags.<key>"
        )
    if field == "run_id" and op not in ("=", "!="):
        raise InvalidArgument(f"run_id supports only = and != in filters, got {op}")
    return Clause(field, op, value)
