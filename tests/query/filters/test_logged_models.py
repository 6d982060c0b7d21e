"""The logged-model search filter: attributes, tags, null tests, and errors naming the problem."""

from __future__ import annotations

import pytest
from psycopg import sql

from tracklog.query.errors import InvalidArgument
from tracklog.query.filters.logged_model_order import DatasetFilter
from tracklog.query.filters.logged_models import parse_filter


def render(pieces: list[sql.Composable]) -> list[str]:
    return [p.as_string(None) for p in pieces]


def test_mlflows_runs_uri_resolution_filter() -> None:
    clauses, args = parse_filter("name = 'model'")
    assert render(clauses) == ['m."name" = %s']
    assert args == ["model"]


@pytest.mark.parametrize(
    ("text", "column", "operator"),
    [
        ("model_id = 'm-1'", "model_id", "="),
        ("attributes.model_type != 'sklearn'", "model_type", "<>"),
        ("STATUS like 'READ%'", "status", "LIKE"),
        ("attribute.source_run_id ILIKE 'abc%'", "source_run_id", "ILIKE"),
        ("attributes.name <> 'x'", "name", "<>"),
    ],
)
def test_every_attribute_reads_its_column(text: str, column: str, operator: str) -> None:
    clauses, args = parse_filter(text)
    assert render(clauses) == [f'm."{column}" {operator} %s']
    assert len(args) == 1


def test_tags_clauses_and_null_tests_ask_the_model_tags() -> None:
    clauses, args = parse_filter(
        "name = 'm' AND tags.`my key` LIKE 'v%' and tags.team IS NULL AND tags.x is not null"
    )
    assert args == ["m", "my key", "v%", "team", "x"]
    tag, absent, present = render(clauses)[1:]
    owner = "SELECT 1 FROM logged_model_tags t WHERE t.model_id = m.model_id AND t.key = %s"
    assert tag == f"EXISTS ({owner} AND t.value LIKE %s)"
    assert absent == f"NOT EXISTS ({owner})"
    assert present == f"EXISTS ({owner})"
    assert parse_filter("") == ([], [])


def test_params_and_metrics_ask_their_tables_and_metrics_compare_numbers() -> None:
    clauses, args = parse_filter("params.lr = '0.1' AND metrics.acc >= 0.9 and metric.loss < -1e-3")
    assert args == ["lr", "0.1", "acc", 0.9, "loss", -0.001]
    param, acc, _ = render(clauses)
    assert param == (
        "EXISTS (SELECT 1 FROM logged_model_params p WHERE p.model_id = m.model_id"
        " AND p.key = %s AND p.value = %s)"
    )
    point = "SELECT 1 FROM logged_model_metrics x WHERE x.model_id = m.model_id AND x.key = %s"
    assert acc == f"EXISTS ({point} AND x.value >= %s)"


def test_datasets_restrict_metric_clauses_or_else_ask_for_any_point_on_them() -> None:
    datasets = [DatasetFilter("test", "d1"), DatasetFilter("eval")]
    clauses, args = parse_filter("metrics.acc > 0.5", datasets)
    assert args == ["acc", "test", "d1", "eval", 0.5]
    on_datasets = '(("x".dataset_name = %s AND "x".dataset_digest = %s) OR "x".dataset_name = %s)'
    assert f"AND x.key = %s AND {on_datasets} AND x.value > %s)" in render(clauses)[0]
    clauses, args = parse_filter("name = 'm'", datasets)
    assert args == ["m", "test", "d1", "eval"]
    assert render(clauses)[1].startswith("EXISTS (SELECT 1 FROM logged_model_metrics d")
    assert parse_filter("", []) == ([], [])


def test_values_are_bound_never_spliced() -> None:
    clauses, args = parse_filter(r"name = 'x\'; DROP TABLE logged_models; --'")
    assert args == ["x'; DROP TABLE logged_models; --"]
    assert "DROP" not in " ".join(render(clauses))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("runs.alpha = '1'", "position 0: unknown field 'runs.alpha' \\(name, model_id,"),
        ("experiment_id = '1'", "unknown field 'experiment_id'"),
        ("name = model", "position 7: expected a quoted string"),
        ("name > 'a'", "position 5: expected one of = != LIKE ILIKE, got '>'"),
        ("metrics.acc LIKE 1", "position 12: expected one of = != < <= > >=, got 'LIKE'"),
        ("metrics.acc > '0.5'", "position 14: expected a number"),
        ("params.lr = 0.1", "position 12: expected a quoted string"),
        ("name = 'a' OR name = 'b'", "position 11: expected AND"),
        ("name = 'a' AND", "position 14: expected a clause after AND"),
        ("status IS NULL", "position 0: IS \\[NOT\\] NULL is for tags"),
        ("tags.a IS 'x'", "position 10: expected NULL after IS"),
        ("name =", "position 6: the filter ends early"),
    ],
)
def test_bad_filters_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_filter(text)
