"""The typed syntax tree of MLflow's run filter and order-by languages (pure data).

`filter_parser` builds it from text, `filter_sql` compiles it to parameterized
SQL. Values are already checked against the identifier's kind: metrics and the
time attributes compare with `Decimal` numbers (exact; metrics compare as
float8), params, tags and the other attributes with `str`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, TypeAlias

EntityKind: TypeAlias = Literal["metric", "param", "tag", "attribute", "dataset"]
Operator: TypeAlias = Literal[
    "=", "!=", ">", ">=", "<", "<=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"
]
Scalar: TypeAlias = str | Decimal
Value: TypeAlias = Scalar | tuple[Scalar, ...] | None

# Attribute name -> runs column. Times compare as epoch milliseconds.
STRING_ATTRIBUTES: dict[str, str] = {
    "run_id": "run_id",
    "run_name": "run_name",
    "status": "status",
    "artifact_uri": "artifact_uri",
    "experiment_id": "experiment_id",
    "user_id": "user_id",
    "lifecycle_stage": "lifecycle_stage",
}
TIME_ATTRIBUTES: dict[str, str] = {"start_time": "start_time", "end_time": "end_time"}
ATTRIBUTES: tuple[str, ...] = (*STRING_ATTRIBUTES, *TIME_ATTRIBUTES)

# Dataset input key -> run_inputs column (`datasets.name = 'train'`: a run that used it).
DATASET_KEYS: dict[str, str] = {
    "name": "dataset_name",
    "digest": "dataset_digest",
    "context": "context",
}
DATASET_OPERATORS: tuple[Operator, ...] = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")

# The tag MLflow keeps the run name in: searching it searches the run_name attribute.
RUN_NAME_TAG = "mlflow.runName"

ORDERING: tuple[Operator, ...] = (">", ">=", "<", "<=")
EQUALITY: tuple[Operator, ...] = ("=", "!=")
SETS: tuple[Operator, ...] = ("IN", "NOT IN")
NULLNESS: tuple[Operator, ...] = ("IS NULL", "IS NOT NULL")
PATTERNS: tuple[Operator, ...] = ("LIKE", "ILIKE")
NUMERIC_OPERATORS: tuple[Operator, ...] = (*EQUALITY, *ORDERING, *SETS, *NULLNESS)
STRING_OPERATORS: tuple[Operator, ...] = (*NUMERIC_OPERATORS, *PATTERNS)

_PLURAL: dict[EntityKind, str] = {
    "metric": "metrics",
    "param": "params",
    "tag": "tags",
    "attribute": "attributes",
    "dataset": "datasets",
}


@dataclass(frozen=True, slots=True)
class Identifier:
    """`metrics.acc`, `params.lr`, `tags.team`, `attributes.status` or `datasets.name`."""

    kind: EntityKind
    key: str

    @property
    def numeric(self) -> bool:
        """Compared with numbers (metrics, start_time, end_time) rather than strings."""
        return self.kind == "metric" or (self.kind == "attribute" and self.key in TIME_ATTRIBUTES)

    def __str__(self) -> str:
        simple = re.fullmatch(r"[A-Za-z0-9_.:/\-]+", self.key) is not None
        key = self.key if simple else "`" + self.key.replace("`", "``") + "`"
        return f"{_PLURAL[self.kind]}.{key}"


@dataclass(frozen=True, slots=True)
class Comparison:
    """`identifier operator value`; value is a tuple for IN / NOT IN, None for IS [NOT] NULL."""

    identifier: Identifier
    operator: Operator
    value: Value


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every item holds (AND)."""

    items: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one item holds (OR, an extension: MLflow has only AND)."""

    items: tuple[Expression, ...]


Expression: TypeAlias = Comparison | AllOf | AnyOf


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One `order_by` entry: runs lacking the key sort last in both directions."""

    identifier: Identifier
    ascending: bool
