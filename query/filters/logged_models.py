"""MLflow's logged-model search filter, parsed into SQL pieces over `logged_models m` (pure).

Clauses joined by AND over the attributes `name`, `model_id`, `model_type`, `status`
(as stored: 'PENDING', 'READY', 'FAILED') and `source_run_id`, each optionally
prefixed `attributes.`, `tags.<key>` and `params.<key>`: an operator (= != LIKE ILIKE)
and a quoted string, or for a tag `IS NULL` / `IS NOT NULL`; and `metrics.<key>`, an
operator (= != < <= > >=) and a number: some point of the model's metric compares, on
one of the search's datasets when it names any (MLflow's SqlAlchemyStore). A search
with datasets and no metric clause keeps the models with a point on one of them.
MLflow resolves `runs:/<run>/model` with ``name = 'model'``. The language is
`clause_filter`'s, shared with the experiment search; a bad filter is an InvalidArgument
naming the position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from tracklog.query.filters import clauses as clause_filter
from tracklog.query.filters.clauses import FilterTarget
from tracklog.query.filters.logged_model_order import DatasetFilter, dataset_match

_ATTRIBUTES = ("name", "model_id", "model_type", "status", "source_run_id")
_FIELDS = ", ".join(_ATTRIBUTES) + ", tags.<key>, params.<key> or metrics.<key>"
_METRIC = "SELECT 1 FROM logged_model_metrics x WHERE x.model_id = m.model_id AND x.key = %s"


def _target(datasets: Sequence[DatasetFilter]) -> FilterTarget:
    metric_exists: sql.Composable = sql.SQL(_METRIC)
    metric_args: list[Any] = []
    if datasets:
        match, metric_args = dataset_match("x", datasets)
        metric_exists = sql.SQL("{} AND {}").format(metric_exists, match)
    return FilterTarget(
        attributes={name: sql.SQL("m.{}").format(sql.Identifier(name)) for name in _ATTRIBUTES},
        tag_exists=sql.SQL(
            "SELECT 1 FROM logged_model_tags t WHERE t.model_id = m.model_id AND t.key = %s"
        ),
        fields=_FIELDS,
        param_exists=sql.SQL(
            "SELECT 1 FROM logged_model_params p WHERE p.model_id = m.model_id AND p.key = %s"
        ),
        metric_exists=metric_exists,
        metric_args=tuple(metric_args),
    )


def parse_filter(
    text: str, datasets: Sequence[DatasetFilter] = ()
) -> tuple[list[sql.Composable], list[Any]]:
    """SQL conditions (over logged models `m`) and their arguments; all must hold."""
    clauses, args = clause_filter.parse_filter(text, _target(datasets))
    metric_fields = [
        f
        for f in clause_filter.clause_fields(text)
        if f.lower().startswith(("metric.", "metrics."))
    ]
    if datasets and not metric_fields:
        match, match_args = dataset_match("d", datasets)
        clauses.append(
            sql.SQL(
                "EXISTS (SELECT 1 FROM logged_model_metrics d WHERE d.model_id = m.model_id AND {})"
            ).format(match)
        )
        args += match_args
    return clauses, args
