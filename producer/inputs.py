"""Turn what callers pass into validated columns and pairs, using `tracklog.contract.validation`.

The common case (a known key, a finite float, int step and timestamp) is checked
inline; everything else goes through the shared validation functions, so the rules
live in one place. Validated metric keys are cached with their UTF-8 size.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping

from tracklog.contract import validation
from tracklog.entities import Metric, Param, RunTag
from tracklog.sending.batcher import Points

_MAX = sys.float_info.max
_I64_MIN, _I64_MAX = validation.INT64_MIN, validation.INT64_MAX
MAX_CACHED_KEYS = 100_000


class MetricKeys:
    """Metric keys already validated, with their encoded size (a bounded cache)."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}

    def size_of(self, key: object) -> int:
        size = self.sizes.get(key) if type(key) is str else None
        if size is not None:
            return size
        valid = validation.validate_key("metric", key)
        size = len(valid.encode())
        if len(self.sizes) < MAX_CACHED_KEYS:
            self.sizes[valid] = size
        return size


def _value(key: str, value: object) -> float:
    try:
        return validation.metric_value(key, value)
    except OverflowError:
        raise ValueError(f"value of metric {key!r} does not fit a double") from None


def metric_points(metrics: Iterable[Metric], keys_cache: MetricKeys) -> Points:
    keys: list[str] = []
    steps: list[int] = []
    stamps: list[int] = []
    values: list[float] = []
    nbytes = 0
    sizes = keys_cache.sizes
    for key, value, timestamp, step in metrics:
        size = sizes.get(key) if type(key) is str else None
        if size is None:
            size = keys_cache.size_of(key)
        if type(value) is not float or not -_MAX <= value <= _MAX:
            value = _value(key, value)  # NaN kept, +/-inf clamped, non-numbers refused
        if type(step) is not int or not _I64_MIN <= step <= _I64_MAX:
            step = validation.int64(f"step of metric {key!r}", step)
        if type(timestamp) is not int or not _I64_MIN <= timestamp <= _I64_MAX:
            timestamp = validation.int64(f"timestamp of metric {key!r}", timestamp)
        keys.append(key)
        values.append(value)
        steps.append(step)
        stamps.append(timestamp)
        nbytes += size
    return Points(keys, steps, stamps, values, nbytes)


def param_pairs(params: Iterable[Param]) -> list[tuple[str, str]]:
    pairs = [
        (validation.validate_key("param", key), validation.param_value(key, value))
        for key, value in params
    ]
    validation.no_duplicate_keys("param", (key for key, _ in pairs))
    return pairs


def tag_pairs(tags: Iterable[RunTag]) -> list[tuple[str, str]]:
    pairs = [
        (validation.validate_key("tag", key), validation.tag_value(key, value))
        for key, value in tags
    ]
    validation.no_duplicate_keys("tag", (key for key, _ in pairs))
    return pairs


def tags_from(mapping: Mapping[str, object] | None) -> list[RunTag]:
    return [RunTag(key, value) for key, value in (mapping or {}).items()]
