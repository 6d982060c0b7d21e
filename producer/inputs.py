"""Turn what callers pass into validated columns and pairs, using `tracklog.contract.validation`.

The common case (a known key, a finite float, int step and timestamp) is checked
inline; everything else goes through the shared validation functions, so the rules
live in one place. Validated metric keys are cached with their UTF-8 size, and so are
the key sets `log_metrics` is called with: a call repeating a known set, with float
values, checks its keys with one dict lookup and its values with a few C-level passes.
Whenever a fast check fails the call is checked point by point, so the errors (and
which point they name) are the same whatever path a call takes.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Iterable, Mapping

from tracklog.contract import validation
from tracklog.entities import Metric, Param, RunTag
from tracklog.sending.batcher import Points

_MAX = sys.float_info.max
_I64_MIN, _I64_MAX = validation.INT64_MIN, validation.INT64_MAX
MAX_CACHED_KEYS = 100_000
MAX_CACHED_KEY_SET_KEYS = 1_000_000  # keys held by all the cached key sets together
# float.conjugate takes a float or a subclass (numpy.float64) and returns a plain float;
# it refuses anything else with TypeError (bool, int, str, numpy.float32, ...). Mapped
# over a list it is twice as fast as float.__float__ (a method, not a slot wrapper).
_plain_float = float.conjugate


class MetricKeys:
    """Metric keys already validated, with their encoded size (a bounded cache), and the
    key sets of `log_metrics` calls: (the validated keys, their total size)."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        self.key_sets: dict[tuple[str, ...], tuple[tuple[str, ...], int]] = {}
        self._key_set_keys = 0  # keys held by key_sets

    def remember_set(self, keys: tuple[str, ...], nbytes: int) -> None:
        """Cache a set of keys that were all validated (bounded by their total count)."""
        if self._key_set_keys + len(keys) <= MAX_CACHED_KEY_SET_KEYS:
            self.key_sets[keys] = (keys, nbytes)
            self._key_set_keys += len(keys)

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


def point(
    key: str, value: float, step: int, timestamp: int, keys_cache: MetricKeys
) -> tuple[str, int, int, float, int]:
    """The checked point of one `log_metric` call: (key, step, timestamp, value, the key's
    UTF-8 size), as `metric_points` checks one Metric."""
    size = keys_cache.sizes.get(key) if type(key) is str else None
    if size is None:
        size = keys_cache.size_of(key)
    if type(value) is not float or not -_MAX <= value <= _MAX:
        value = _value(key, value)
    if type(step) is not int or not _I64_MIN <= step <= _I64_MAX:
        step = validation.int64(f"step of metric {key!r}", step)
    if type(timestamp) is not int or not _I64_MIN <= timestamp <= _I64_MAX:
        timestamp = validation.int64(f"timestamp of metric {key!r}", timestamp)
    return key, step, timestamp, value, size


def one_point(key: str, value: float, step: int, timestamp: int, keys_cache: MetricKeys) -> Points:
    """`point` as the columns of one call (`metric_points` of one Metric, without it)."""
    key, step, timestamp, value, size = point(key, value, step, timestamp, keys_cache)
    return Points([key], [step], [timestamp], [value], size)


def _plain_int64(value: object) -> int | None:
    """``value`` as an int when it is an integer (not a bool) in the int64 range, else None."""
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return None
        value = int(value)
    return value if _I64_MIN <= value <= _I64_MAX else None


def mapping_points(
    metrics: Mapping[str, float], step: int, timestamp: int, keys_cache: MetricKeys
) -> Points:
    """The points of one `log_metrics` call: every key at the same step and timestamp."""
    names = tuple(metrics)
    known = keys_cache.key_sets.get(names)
    if type(step) is int and _I64_MIN <= step <= _I64_MAX:
        plain_step: int | None = step
    else:
        plain_step = _plain_int64(step)
    if type(timestamp) is int and _I64_MIN <= timestamp <= _I64_MAX:
        plain_timestamp: int | None = timestamp
    else:
        plain_timestamp = _plain_int64(timestamp)
    if known is not None and plain_step is not None and plain_timestamp is not None:
        try:
            values = list(map(_plain_float, metrics.values()))
        except TypeError:  # not all floats: checked point by point below
            pass
        else:
            n = len(names)
            # a NaN or an infinity makes the sum NaN or infinite (and so may a huge sum)
            if len(values) == n and -_MAX <= sum(values) <= _MAX:
                keys, nbytes = known  # the validated keys, whatever equal objects came
                return Points(list(keys), [plain_step] * n, [plain_timestamp] * n, values, nbytes)
    points = metric_points(
        [Metric(key, value, timestamp, step) for key, value in metrics.items()], keys_cache
    )
    if known is None and len(points.keys) == len(names):
        keys_cache.remember_set(tuple(points.keys), points.nbytes)
    return points


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
