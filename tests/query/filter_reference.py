"""A Python reference for the search language: runs as plain data, filters evaluated in Python.

The service's SQL must agree with `matches` and `ordered` on any data; the tests
write the same `RefRun`s to Postgres (`insert_runs`) and compare.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from tracklog.query.filters.syntax import (
    TIME_ATTRIBUTES,
    AllOf,
    AnyOf,
    Comparison,
    Expression,
    Identifier,
    OrderKey,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class RefRun:
    run_id: str
    experiment_id: str
    status: str = "FINISHED"
    run_name: str = ""
    user_id: str = ""
    artifact_uri: str = ""
    lifecycle_stage: str = "active"
    start_time: datetime | None = None
    end_time: datetime | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def millis(moment: datetime | None) -> int | None:
    return None if moment is None else (moment - EPOCH) // timedelta(milliseconds=1)


def _lookup(run: RefRun, identifier: Identifier) -> Any:
    """The run's value for the identifier; None when it lacks it."""
    if identifier.kind == "metric":
        return run.metrics.get(identifier.key)
    if identifier.kind == "param":
        return run.params.get(identifier.key)
    if identifier.kind == "tag":
        return run.tags.get(identifier.key)
    if identifier.key in TIME_ATTRIBUTES:
        return millis(getattr(run, identifier.key))
    return getattr(run, identifier.key)


def like(pattern: str, text: str, ignore_case: bool) -> bool:
    """SQL LIKE with `\\` as the escape character."""
    parts, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append({"%": ".*", "_": "."}.get(char, re.escape(char)))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch("".join(parts), text, flags) is not None


def _number(identifier: Identifier, literal: Any) -> Any:
    return float(literal) if identifier.kind == "metric" else literal


def _compare(comparison: Comparison, actual: Any) -> bool:
    op, identifier = comparison.operator, comparison.identifier
    if op == "IS NULL":
        return actual is None
    if op == "IS NOT NULL":
        return actual is not None
    if actual is None:
        return False
    if op in ("IN", "NOT IN"):
        values = [_number(identifier, v) for v in comparison.value]  # type: ignore[union-attr]
        inside = any(actual == v for v in values)
        return inside if op == "IN" else all(actual != v for v in values)
    if op in ("LIKE", "ILIKE"):
        return like(str(comparison.value), actual, op == "ILIKE")
    value = _number(identifier, comparison.value)
    checks: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
    }
    return checks[op](actual, value)


def matches(expression: Expression | None, run: RefRun) -> bool:
    if expression is None:
        return True
    if isinstance(expression, AllOf):
        return all(matches(item, run) for item in expression.items)
    if isinstance(expression, AnyOf):
        return any(matches(item, run) for item in expression.items)
    return _compare(expression, _lookup(run, expression.identifier))


def _sort_key_last(
    runs: list[RefRun], value: Callable[[RefRun], Any], ascending: bool
) -> list[RefRun]:
    """Stable sort by value; missing values last, NaN just before them (both directions)."""
    present = [r for r in runs if value(r) is not None and not _is_nan(value(r))]
    nans = [r for r in runs if value(r) is not None and _is_nan(value(r))]
    missing = [r for r in runs if value(r) is None]
    present.sort(key=value, reverse=not ascending)
    return present + nans + missing


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def ordered(
    runs: Iterable[RefRun], order_by: Sequence[OrderKey], start_ascending: bool = False
) -> list[RefRun]:
    """The service's order: the keys (or start time), then start time DESC, then run id."""
    result = sorted(runs, key=lambda r: r.run_id)
    result = _sort_key_last(result, lambda r: r.start_time, ascending=False)
    keys = list(order_by) or [OrderKey(Identifier("attribute", "start_time"), start_ascending)]
    for key in reversed(keys):
        identifier = key.identifier

        def value(run: RefRun, identifier: Identifier = identifier) -> Any:
            if identifier.kind == "attribute" and identifier.key in TIME_ATTRIBUTES:
                return getattr(run, identifier.key)  # full precision, as the SQL sorts
            return _lookup(run, identifier)

        result = _sort_key_last(result, value, key.ascending)
    return result


def render_literal(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def render(expression: Expression) -> str:
    """Filter text for a tree (parse_filter(render(e)) == e for the trees the tests build)."""
    if isinstance(expression, AllOf):
        return "(" + " AND ".join(render(i) for i in expression.items) + ")"
    if isinstance(expression, AnyOf):
        return "(" + " OR ".join(render(i) for i in expression.items) + ")"
    head = f"{expression.identifier} {expression.operator}"
    if expression.value is None:
        return head
    if isinstance(expression.value, tuple):
        return head + " (" + ", ".join(render_literal(v) for v in expression.value) + ")"
    return f"{head} {render_literal(expression.value)}"


def insert_runs(conn: psycopg.Connection[Any], runs: Iterable[RefRun]) -> None:
    """Write the runs (and nothing else) as the ingest worker would, in one transaction."""
    runs = list(runs)
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO runs (run_id, experiment_id, run_name, user_id, status, start_time,"
            " end_time, lifecycle_stage, artifact_uri) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (r.run_id, r.experiment_id, r.run_name, r.user_id, r.status, r.start_time,
                 r.end_time, r.lifecycle_stage, r.artifact_uri)
                for r in runs
            ],
        )  # fmt: skip
        for table, attribute in (("params", "params"), ("tags", "tags")):
            rows = [(r.run_id, k, v) for r in runs for k, v in getattr(r, attribute).items()]
            cur.executemany(
                f"INSERT INTO {table} (run_id, key, value) VALUES (%s, %s, %s)",  # type: ignore[arg-type]
                rows,
            )
        cur.executemany(
            "INSERT INTO latest_metrics (run_id, key, step, timestamp_ms, value)"
            " VALUES (%s, %s, 0, 0, %s)",
            [(r.run_id, k, v) for r in runs for k, v in r.metrics.items()],
        )
