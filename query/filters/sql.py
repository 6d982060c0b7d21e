"""Compile `filter_ast` trees to parameterized Postgres SQL over `runs r` (pure).

User values never enter the SQL text: every value becomes a named placeholder
(`%(p0)s`, ...) whose value is kept in `Arguments`; keys and operators are
chosen from fixed tables. Semantics (as MLflow):
  - a comparison on a metric, param or tag holds only for runs that have the key
    (so `!=` and NOT IN skip runs lacking it); IS [NOT] NULL tests presence;
  - metrics compare as float8 with the latest value; NaN is only `!=` / NOT IN
    anything (as in Python);
  - params, tags and string attributes compare as strings (ordering operators
    by code point: COLLATE "C"); LIKE / ILIKE use `\\` as the escape character;
  - start_time / end_time compare as integer epoch milliseconds; a missing time
    satisfies only IS NULL.
Order keys sort runs lacking the key last in both directions (for metrics, NaN
just before them), then by start_time DESC and run_id.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from tracklog.query.filters.syntax import (
    DATASET_KEYS,
    STRING_ATTRIBUTES,
    TIME_ATTRIBUTES,
    AllOf,
    AnyOf,
    Comparison,
    Expression,
    Identifier,
    Operator,
    OrderKey,
    Scalar,
)

_TABLES = {"metric": "latest_metrics", "param": "params", "tag": "tags"}
_SQL_OPERATORS: dict[Operator, str] = {
    "=": "=",
    "!=": "<>",
    ">": ">",
    ">=": ">=",
    "<": "<",
    "<=": "<=",
    "LIKE": "LIKE",
    "ILIKE": "ILIKE",
}
_NAN = sql.SQL("'NaN'::float8")


class Arguments:
    """The values of the named placeholders of one query, in a dict for `execute`."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> sql.Placeholder:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return sql.Placeholder(name)


def _converted(value: Scalar, metric: bool) -> Scalar | float:
    # Metrics compare as float8 (out-of-range literals become +-inf); times stay exact.
    return float(value) if metric else value


def _bind(args: Arguments, comparison: Comparison) -> sql.Composable:
    """The placeholder for the comparison's value, converted for the column's type."""
    value, metric = comparison.value, comparison.identifier.kind == "metric"
    if isinstance(value, tuple):
        return args.add([_converted(v, metric) for v in value])
    if value is None:
        raise ValueError(f"{comparison.operator} takes a value")
    return args.add(_converted(value, metric))


def _predicate(column: sql.Composable, comparison: Comparison, args: Arguments) -> sql.Composable:
    """`column <op> value` for one column (a metric, param, tag value or a run attribute)."""
    operator = comparison.operator
    if operator == "IS NULL":
        return sql.SQL("{} IS NULL").format(column)
    if operator == "IS NOT NULL":
        return sql.SQL("{} IS NOT NULL").format(column)
    value = _bind(args, comparison)
    if operator == "IN":
        return sql.SQL("{} = ANY({})").format(column, value)
    if operator == "NOT IN":
        return sql.SQL("{} <> ALL({})").format(column, value)
    textual = not comparison.identifier.numeric
    if textual and operator in (">", ">=", "<", "<="):
        column = sql.SQL('{} COLLATE "C"').format(column)
    return sql.SQL("{} {} {}").format(column, sql.SQL(_SQL_OPERATORS[operator]), value)


# Params and tags are indexed on (key, left(value, VALUE_PREFIX)) (values may be too long
# for a btree entry); equality also tests the prefix so that the index applies.
VALUE_PREFIX = 200


def _equal_values(comparison: Comparison, args: Arguments) -> sql.Composable:
    """`x.value = v` / `= ANY(vs)` for params and tags, written so the index applies.

    For a value shorter than the prefix, `left(x.value, N) = v` alone is exact (a
    longer stored value has an N-character prefix); longer values also test the
    whole value. One predicate, not two, keeps the planner's row estimate right.
    """
    values = comparison.value if isinstance(comparison.value, tuple) else (comparison.value,)
    texts = [str(v) for v in values]
    column = sql.SQL("left(x.value, {})").format(sql.Literal(VALUE_PREFIX))
    if all(len(t) < VALUE_PREFIX for t in texts):
        exact: sql.Composable | None = None
    else:
        exact = _predicate(sql.SQL("x.value"), comparison, args)
    if comparison.operator == "=":
        prefix = sql.SQL("{} = {}").format(column, args.add(texts[0][:VALUE_PREFIX]))
    else:
        prefixes = [t[:VALUE_PREFIX] for t in texts]
        prefix = sql.SQL("{} = ANY({})").format(column, args.add(prefixes))
    return prefix if exact is None else sql.SQL("{} AND {}").format(prefix, exact)


def _keyed(comparison: Comparison, args: Arguments) -> sql.Composable:
    """A metric, param or tag comparison: EXISTS a row with the key whose value matches."""
    identifier = comparison.identifier
    table = sql.Identifier(_TABLES[identifier.kind])
    has_key = sql.SQL("SELECT 1 FROM {} x WHERE x.run_id = r.run_id AND x.key = {}").format(
        table, args.add(identifier.key)
    )
    if comparison.operator == "IS NULL":
        return sql.SQL("NOT EXISTS ({})").format(has_key)
    if comparison.operator == "IS NOT NULL":
        return sql.SQL("EXISTS ({})").format(has_key)
    if identifier.kind != "metric" and comparison.operator in ("=", "IN"):
        matches = _equal_values(comparison, args)
    else:
        matches = _predicate(sql.SQL("x.value"), comparison, args)
    if identifier.kind == "metric" and comparison.operator not in ("!=", "NOT IN"):
        matches = sql.SQL("{} AND x.value <> {}").format(matches, _NAN)
    return sql.SQL("EXISTS ({} AND {})").format(has_key, matches)


def _time_ms(column: str) -> sql.Composable:
    return sql.SQL("floor(extract(epoch FROM r.{}) * 1000)").format(sql.Identifier(column))


def _attribute(comparison: Comparison, args: Arguments) -> sql.Composable:
    key = comparison.identifier.key
    if key in TIME_ATTRIBUTES:
        column = sql.Identifier(TIME_ATTRIBUTES[key])
        if comparison.operator in ("IS NULL", "IS NOT NULL"):
            return _predicate(sql.SQL("r.{}").format(column), comparison, args)
        return _predicate(_time_ms(TIME_ATTRIBUTES[key]), comparison, args)
    return _predicate(
        sql.SQL("r.{}").format(sql.Identifier(STRING_ATTRIBUTES[key])), comparison, args
    )


def _dataset(comparison: Comparison, args: Arguments) -> sql.Composable:
    """A dataset comparison: EXISTS an input of the run whose name, digest or context matches
    (as MLflow's SQL store: each comparison may match a different input of the run)."""
    column = sql.SQL("x.{}").format(sql.Identifier(DATASET_KEYS[comparison.identifier.key]))
    return sql.SQL("EXISTS (SELECT 1 FROM run_inputs x WHERE x.run_id = r.run_id AND {})").format(
        _predicate(column, comparison, args)
    )


def where(expression: Expression, args: Arguments) -> sql.Composable:
    """A boolean SQL expression over `runs r` that holds for the runs the filter matches."""
    if isinstance(expression, AllOf):
        parts = [where(item, args) for item in expression.items]
        return sql.SQL("({})").format(sql.SQL(" AND ").join(parts))
    if isinstance(expression, AnyOf):
        parts = [where(item, args) for item in expression.items]
        return sql.SQL("({})").format(sql.SQL(" OR ").join(parts))
    if expression.identifier.kind == "attribute":
        return _attribute(expression, args)
    if expression.identifier.kind == "dataset":
        return _dataset(expression, args)
    return _keyed(expression, args)


TIE_BREAK = sql.SQL("r.start_time DESC NULLS LAST, r.run_id")


def order(
    keys: tuple[OrderKey, ...], args: Arguments
) -> tuple[list[sql.Composable], list[sql.Composable]]:
    """(LEFT JOINs, ORDER BY terms) for the keys; the tie-break terms are not included."""
    joins: list[sql.Composable] = []
    terms: list[sql.Composable] = []
    for index, key in enumerate(keys):
        direction = sql.SQL("ASC" if key.ascending else "DESC")
        identifier: Identifier = key.identifier
        if identifier.kind == "attribute":
            name = identifier.key
            column = sql.SQL("r.{}").format(
                sql.Identifier(TIME_ATTRIBUTES.get(name) or STRING_ATTRIBUTES[name])
            )
            if name in STRING_ATTRIBUTES:
                column = sql.SQL('{} COLLATE "C"').format(column)
            terms.append(sql.SQL("{} {} NULLS LAST").format(column, direction))
            continue
        alias = sql.Identifier(f"o{index}")
        joins.append(
            sql.SQL(
                " LEFT JOIN {table} {alias} ON {alias}.run_id = r.run_id AND {alias}.key = {key}"
            ).format(
                table=sql.Identifier(_TABLES[identifier.kind]),
                alias=alias,
                key=args.add(identifier.key),
            )
        )
        value = sql.SQL("{}.value").format(alias)
        if identifier.kind == "metric":
            terms.append(sql.SQL("{} IS NULL").format(value))
            terms.append(sql.SQL("{} = {}").format(value, _NAN))
            terms.append(sql.SQL("{} {}").format(value, direction))
        else:
            terms.append(sql.SQL('{} COLLATE "C" {} NULLS LAST').format(value, direction))
    return joins, terms
