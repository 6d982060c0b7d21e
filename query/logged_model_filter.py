"""MLflow's logged-model search filter, parsed into SQL pieces over `logged_models m` (pure).

Clauses joined by AND over the attributes `name`, `model_id`, `model_type`, `status`
(as stored: 'PENDING', 'READY', 'FAILED') and `source_run_id`, each optionally
prefixed `attributes.`, and `tags.<key>`: an operator (= != LIKE ILIKE) and a quoted
string, or for a tag `IS NULL` / `IS NOT NULL`. MLflow resolves `runs:/<run>/model`
with ``name = 'model'``. The language is `clause_filter`'s, shared with the
experiment search; a bad filter is an InvalidArgument naming the position.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from tracklog.query import clause_filter
from tracklog.query.clause_filter import FilterTarget

_ATTRIBUTES = ("name", "model_id", "model_type", "status", "source_run_id")
LOGGED_MODELS = FilterTarget(
    attributes={name: sql.SQL("m.{}").format(sql.Identifier(name)) for name in _ATTRIBUTES},
    tag_exists=sql.SQL(
        "SELECT 1 FROM logged_model_tags t WHERE t.model_id = m.model_id AND t.key = %s"
    ),
    fields=", ".join(_ATTRIBUTES) + " or tags.<key>",
)


def parse_filter(text: str) -> tuple[list[sql.Composable], list[Any]]:
    """SQL conditions (over logged models `m`) and their arguments; all must hold."""
    return clause_filter.parse_filter(text, LOGGED_MODELS)
