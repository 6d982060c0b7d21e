"""MLflow's rules for names and values, shared by the SDK (before sending) and the
ingest worker (before projecting). Each check raises ValueError naming the problem.
"""

from __future__ import annotations

import math
import numbers
import re
import sys
from collections.abc import Iterable

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_RUN_NAME_LENGTH = 250
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_ID_LENGTH = 64
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Letters, digits, underscores, dashes, periods, spaces and slashes (MLflow).
_KEY_RE = re.compile(r"^[/\w.\- ]+$")
_ID_RE = re.compile(r"^[A-Za-z0-9_\-]+$")


def validate_key(kind: str, key: object) -> str:
    """A metric, param or tag key as MLflow allows it."""
    if not isinstance(key, str):
        raise ValueError(f"{kind} key must be a string, got {type(key).__name__}")
    if not key:
        raise ValueError(f"{kind} key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(
            f"{kind} key {key[:40]!r}... is {len(key)} characters; at most {MAX_KEY_LENGTH}"
        )
    if not _KEY_RE.match(key):
        raise ValueError(
            f"invalid {kind} key {key!r}: only letters, digits, underscores (_), dashes (-), "
            "periods (.), spaces ( ) and slashes (/) are allowed"
        )
    if key.startswith("/") or any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"invalid {kind} key {key!r}: must be a relative path without '.' or '..'")
    return key


def validate_id(kind: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{kind} must be a non-empty string")
    if len(value) > MAX_ID_LENGTH or not _ID_RE.match(value):
        raise ValueError(
            f"invalid {kind} {value!r}: letters, digits, '_' and '-', at most {MAX_ID_LENGTH}"
        )
    return value


def _text(kind: str, value: object, limit: int) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise ValueError(f"{kind} is {len(text)} characters; at most {limit}")
    return text


def param_value(key: str, value: object) -> str:
    return _text(f"value of param {key!r}", value, MAX_PARAM_VALUE_LENGTH)


def tag_value(key: str, value: object) -> str:
    return _text(f"value of tag {key!r}", value, MAX_TAG_VALUE_LENGTH)


def run_name(name: object) -> str:
    return _text("run name", name, MAX_RUN_NAME_LENGTH)


def experiment_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("experiment name must be a non-empty string")
    return _text("experiment name", name, MAX_EXPERIMENT_NAME_LENGTH)


def metric_value(key: str, value: object) -> float:
    """A float as MLflow stores it: NaN kept, +/-inf clamped to the largest finite double."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"value of metric {key!r} must be a number, got {type(value).__name__}")
    number = float(value)
    if math.isinf(number):
        return sys.float_info.max if number > 0 else -sys.float_info.max
    return number


def int64(kind: str, value: object) -> int:
    """An integer that fits a signed 64-bit column (numpy integers accepted)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{kind} must be an integer, got {type(value).__name__}")
    number = int(value)
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"{kind} {number} is outside the 64-bit integer range")
    return number


def no_duplicate_keys(kind: str, keys: Iterable[str]) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"duplicate {kind} key {key!r} in one batch")
        seen.add(key)
