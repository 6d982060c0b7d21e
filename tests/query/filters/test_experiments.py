"""The experiment search filter: clauses, quoting, and errors naming the position."""

from __future__ import annotations

import pytest
from psycopg import sql

from tracklog.query.errors import InvalidArgument
from tracklog.query.filters.experiments import parse_filter, parse_order_by


def render(pieces: list[sql.Composable]) -> list[str]:
    return [p.as_string(None) for p in pieces]


def test_name_and_tag_clauses_bind_every_value() -> None:
    clauses, args = parse_filter(
        "name LIKE 'fraud%' AND tags.team = \"a b\" and tags.`my key` != 'x''"[:-1]
    )
    assert args == ["fraud%", "team", "a b", "my key", "x"]
    text = " ".join(render(clauses))
    assert "e.name LIKE %s" in text and "t.value <> %s" in text and "fraud" not in text
    assert parse_filter("") == ([], [])
    assert parse_filter("attributes.name ILIKE 'A%'")[1] == ["A%"]


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("name = ", 7),
        ("name ~ 'x'", 5),
        ("name = x", 7),
        ("name = 'x' OR name = 'y'", 11),
        ("params.x = '1'", 0),
        ("name = 'x'; DROP TABLE experiments", 10),
        ("name = 'x' AND", 14),
    ],
)
def test_errors_name_the_position(text: str, position: int) -> None:
    with pytest.raises(InvalidArgument, match=f"position {position}"):
        parse_filter(text)


def test_order_by() -> None:
    default = parse_order_by([]).as_string(None)
    assert default == "e.creation_time DESC, e.experiment_id ASC"
    assert parse_order_by(["name", "last_update_time DESC"]).as_string(None) == (
        'e."name" ASC, e."last_update_time" DESC, e.experiment_id ASC'
    )
    with pytest.raises(InvalidArgument, match="order_by"):
        parse_order_by(["name; DROP"])


def test_a_tag_is_null_or_not_null_as_mlflows_web_ui_asks() -> None:
    ui = "name LIKE '%x%' AND tags.`mlflow.experimentKind` IS NULL"
    clauses, args = parse_filter(ui)
    assert args == ["%x%", "mlflow.experimentKind"]
    assert render(clauses)[1].startswith("NOT EXISTS (SELECT 1 FROM experiment_tags")
    clauses, args = parse_filter("tags.team is not null and name = 'a'")
    assert args == ["team", "a"]
    assert render(clauses)[0].startswith("EXISTS (SELECT 1") and "t.value" not in render(clauses)[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name IS NULL", "position 0: IS \\[NOT\\] NULL is for tags"),
        ("tags.a IS 'x'", "position 10: expected NULL after IS"),
        ("tags.a IS NOT 'x'", "position 14: expected NULL after IS"),
        ("tags.a IS NOT", "position 13: expected NULL after IS"),
        ("tags.a IS NULL name = 'x'", "position 15: expected AND"),
        ("tags.a IS NULL AND", "position 18: expected a clause after AND"),
    ],
)
def test_null_tests_that_are_wrong_say_where(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_filter(text)
