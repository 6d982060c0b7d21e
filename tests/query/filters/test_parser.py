"""The filter and order-by parsers (pure) and the SQL they compile to."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from tracklog.query.errors import InvalidArgument
from tracklog.query.filters import sql as filter_sql
from tracklog.query.filters.parser import parse_filter, parse_order_by
from tracklog.query.filters.syntax import AllOf, AnyOf, Comparison, Identifier, OrderKey

ACC = Identifier("metric", "acc")
LR = Identifier("param", "lr")


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("", None),
        ("   ", None),
        ("metrics.acc > 0.9", Comparison(ACC, ">", Decimal("0.9"))),
        ("metric.acc>=.5", Comparison(ACC, ">=", Decimal(".5"))),
        ("metrics.acc == -1e-3", Comparison(ACC, "=", Decimal("-1e-3"))),
        ("metrics.acc <> 1", Comparison(ACC, "!=", Decimal("1"))),
        ("params.lr = '0.01'", Comparison(LR, "=", "0.01")),
        ('parameters.lr = "0.01"', Comparison(LR, "=", "0.01")),
        ("params.lr = 'it''s'", Comparison(LR, "=", "it's")),
        ("params.`my key` LIKE 'a%'", Comparison(Identifier("param", "my key"), "LIKE", "a%")),
        ("tags.\"a ``b\" ilike 'x'", Comparison(Identifier("tag", "a ``b"), "ILIKE", "x")),
        ("tags.`a ``b` = 'x'", Comparison(Identifier("tag", "a `b"), "=", "x")),
        ("tags.mlflow.user = 'ada'", Comparison(Identifier("tag", "mlflow.user"), "=", "ada")),
        ("tags.mlflow.runName = 'r'", Comparison(Identifier("attribute", "run_name"), "=", "r")),
        ("status = 'FINISHED'", Comparison(Identifier("attribute", "status"), "=", "FINISHED")),
        ("datasets.name = 'train'", Comparison(Identifier("dataset", "name"), "=", "train")),
        (
            "dataset.context IN ('a', 'b')",
            Comparison(Identifier("dataset", "context"), "IN", ("a", "b")),
        ),
        (
            "attr.run_id in ('a','b')",
            Comparison(Identifier("attribute", "run_id"), "IN", ("a", "b")),
        ),
        ("metrics.acc NOT IN (1, 2)", Comparison(ACC, "NOT IN", (Decimal(1), Decimal(2)))),
        ("params.lr is null", Comparison(LR, "IS NULL", None)),
        (
            "end_time IS NOT NULL",
            Comparison(Identifier("attribute", "end_time"), "IS NOT NULL", None),
        ),
        (
            "start_time > 1700000000000",
            Comparison(Identifier("attribute", "start_time"), ">", Decimal(1700000000000)),
        ),
        (
            "metrics.acc > 0.9 and params.lr = '0.01' AND status = 'FAILED'",
            AllOf(
                (
                    Comparison(ACC, ">", Decimal("0.9")),
                    Comparison(LR, "=", "0.01"),
                    Comparison(Identifier("attribute", "status"), "=", "FAILED"),
                )
            ),
        ),
        (
            "(metrics.acc > 1 or params.lr = 'x') and params.lr != 'y'",
            AllOf(
                (
                    AnyOf((Comparison(ACC, ">", Decimal(1)), Comparison(LR, "=", "x"))),
                    Comparison(LR, "!=", "y"),
                )
            ),
        ),
    ],
)
def test_parses_mlflow_filters(text: str, tree: object) -> None:
    assert parse_filter(text) == tree


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "metrics.acc foo",
            "at position 12, expected a comparison operator after 'metrics.acc', got",
        ),
        (
            "metrics.acc >",
            "at position 13, expected a number to compare metrics.acc with, got the end",
        ),
        ("metrics.acc > 'x'", "at position 14, expected a number"),
        ("params.lr = 1", "at position 12, expected a quoted string to compare params.lr"),
        ("metrics.acc LIKE 'a'", "at position 12, operator LIKE is not valid for metrics.acc"),
        ("start_time ILIKE 'a'", "operator ILIKE is not valid for attributes.start_time"),
        ("colour = 'red'", "at position 0, expected an attribute"),
        ("foo.bar = 'x'", "at position 0, expected metrics., params., tags., attributes. or"),
        ("datasets.schema = 'x'", "at position 0, expected a dataset key (name, digest, context)"),
        ("datasets.name > 'x'", "at position 14, operator > is not valid for datasets.name"),
        ("dataset.name IS NULL", "at position 13, operator IS NULL is not valid for datasets"),
        ("attributes.colour = 'x'", "expected an attribute"),
        ("params. `x` = 'a'", "at position 8, expected a key right after 'params.'"),
        ("params.`` = 'a'", "at position 7, expected a key, got ''"),
        ("params.lr = 'x", "at position 12, unterminated quoted text"),
        ("params.lr = 'x' AND", "at position 19, expected an identifier"),
        ("params.lr = 'x' params.a = 'b'", "at position 16, expected AND, OR or the end"),
        ("(params.lr = 'x'", "at position 16, expected ')'"),
        ("params.lr IN ()", "at position 14, expected a quoted string"),
        ("params.lr IN 'a'", "at position 13, expected '(' to start the IN list"),
        ("params.lr NOT 'a'", "at position 14, expected IN after NOT"),
        ("params.lr IS 'a'", "at position 13, expected NULL after IS"),
        ("params.lr LIKE 'a\\'", "at position 15, the LIKE pattern must not end with an escape"),
        ("params.lr = 'x'; DROP TABLE runs", "at position 15, unexpected character ';'"),
        ("params.lr = 'x' -- comment", "at position 16, unexpected character '-'"),
        ("params.lr = 'x' /* c */", "at position 16, unexpected character '/'"),
        ("params.lr = '\x00'", "at position 13, unexpected NUL character"),
    ],
)
def test_syntax_errors_name_the_position_and_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_filter(text)
    assert str(raised.value).startswith("filter: ")
    assert message in str(raised.value)


def test_parses_order_by_entries() -> None:
    assert parse_order_by(["metrics.acc DESC", "params.`a b`", "start_time asc"]) == (
        OrderKey(ACC, False),
        OrderKey(Identifier("param", "a b"), True),
        OrderKey(Identifier("attribute", "start_time"), True),
    )
    with pytest.raises(InvalidArgument, match=r"order_by\[1\]: at position 10, expected ASC"):
        parse_order_by(["run_id", "params.lr sideways"])
    with pytest.raises(InvalidArgument, match=r"runs cannot be ordered by datasets\.digest"):
        parse_order_by(["datasets.digest"])


def test_user_values_never_enter_the_sql_text() -> None:
    nasty = "x'); DROP TABLE runs; --"
    quoted = "'" + nasty.replace("'", "''") + "'"
    expression = parse_filter(
        f"params.`{nasty}` = {quoted} AND tags.t LIKE {quoted}"
        " AND metrics.acc IN (1, 2) AND run_name >= 'z'"
    )
    assert expression is not None
    args = filter_sql.Arguments()
    clause = filter_sql.where(expression, args)
    joins, terms = filter_sql.order(parse_order_by([f"params.`{nasty}` DESC"]), args)
    text = "".join(
        part.as_string(None)
        for part in [clause, *joins, *terms]  # type: ignore[arg-type]
    )
    assert "DROP" not in text and nasty not in text
    assert nasty in args.values.values()
    assert [1.0, 2.0] in args.values.values()
    assert isinstance(clause, psycopg.sql.Composable)


def test_nesting_and_size_are_bounded() -> None:
    deep = "(" * 33 + "status = 'x'" + ")" * 33
    with pytest.raises(InvalidArgument, match="at position 32, parentheses nest deeper than 32"):
        parse_filter(deep)
    assert parse_filter("(" * 32 + "status = 'x'" + ")" * 32) is not None
    with pytest.raises(InvalidArgument, match="more than 100 comparisons"):
        parse_filter(" AND ".join(["status = 'x'"] * 101))
    assert isinstance(parse_filter(" OR ".join(["status = 'x'"] * 100)), AnyOf)
