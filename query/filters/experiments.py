"""MLflow's experiment search filter and order_by, parsed into SQL pieces (pure).

Filter: clauses joined by AND; each is `name`, `attributes.name` or `tags.<key>`
(backticks around a key with spaces: tags.`my key`), an operator (= != LIKE ILIKE)
and a quoted string, or, for a tag, `IS NULL` / `IS NOT NULL` (the tag is absent /
present: MLflow's web UI lists experiments with ``tags.`mlflow.experimentKind` IS NULL``).
Order by: `name`, `creation_time`, `last_update_time` or
`experiment_id`, each optionally ASC/DESC; experiment_id breaks ties. Values are
always bound parameters; a bad filter is an InvalidArgument naming the position.
The filter language is `clause_filter`'s, shared with the logged-model search.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from tracklog.query.errors import InvalidArgument
from tracklog.query.filters import clauses as clause_filter
from tracklog.query.filters.clauses import FilterTarget

_ORDER_FIELDS = {"name", "creation_time", "last_update_time", "experiment_id"}
EXPERIMENTS = FilterTarget(
    attributes={"name": sql.SQL("e.name")},
    tag_exists=sql.SQL(
        "SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = %s"
    ),
    fields="name or tags.<key>",
)


def parse_filter(text: str) -> tuple[list[sql.Composable], list[Any]]:
    """SQL conditions (over experiments `e`) and their arguments; all must hold."""
    return clause_filter.parse_filter(text, EXPERIMENTS)


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
