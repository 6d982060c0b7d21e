"""The keys of a MetricsLogged batch as codes: distinct names and one small integer per
point, without a Python string per point. Pure.

A batch repeats few keys many times, and in a pattern: `log_metrics` of the same keys at
every step gives keys a, b, c, a, b, c, ...; a history of one key gives a, a, a, ... So
the fast path reads the keys' bytes in the record (protobuf wire format: each key is a
field-1 record `0x0a <length> <utf-8>`, all of them together at the start of the
MetricsLogged payload, as every protobuf serializer writes them), finds the period
(the keys up to the first repeat of the first key), and checks with one byte comparison
that the rest of the region is that period repeated. Anything else (no payload bytes,
another layout, no period) takes the general path: one dictionary lookup per key read
from the parsed message. Both give the same codes: names in order of first appearance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tracklog.v1 import events_pb2 as pb

Codes = npt.NDArray[np.int32]

METRICS_LOGGED_FIELD = pb.Envelope.DESCRIPTOR.fields_by_name["metrics_logged"].number
KEY_TAG = 0x0A  # MetricsLogged.keys: field 1, length-delimited
MAX_PERIOD = 4096  # keys per period the fast path looks for


def key_codes(keys: Sequence[str], payload: bytes | None = None) -> tuple[tuple[str, ...], Codes]:
    """(distinct names in order of first appearance, each point's index into them).

    ``keys`` is the parsed message's repeated field; ``payload`` the envelope's bytes it
    was parsed from (None: the general path)."""
    n = len(keys)
    if n == 0:
        return (), np.zeros(0, dtype=np.int32)
    if payload is not None:
        fast = _periodic(payload, n)
        if fast is not None:
            return fast
    index: dict[str, int] = {}
    codes = np.fromiter(
        (index.setdefault(key, len(index)) for key in keys), dtype=np.int32, count=n
    )
    return tuple(index), codes


def key_names(keys: Sequence[str], payload: bytes | None = None) -> tuple[str, ...]:
    """The distinct names alone (for validation): `key_codes`' names, cheaper when the
    keys do not repeat a period."""
    if payload is not None and len(keys):
        fast = _periodic(payload, len(keys))
        if fast is not None:
            return fast[0]
    return tuple(dict.fromkeys(keys))


def _periodic(payload: bytes, n: int) -> tuple[tuple[str, ...], Codes] | None:
    """The fast path: the n keys at the start of the MetricsLogged payload, if they
    repeat a period of at most MAX_PERIOD keys; None otherwise."""
    region = _field(payload, METRICS_LOGGED_FIELD)
    if region is None:
        return None
    start, end = region
    period: list[bytes] = []  # each key's record, tag and length included
    pos = start
    while pos < end and len(period) < min(n, MAX_PERIOD) and payload[pos] == KEY_TAG:
        length, body = _varint(payload, pos + 1)
        if body < 0:
            return None
        record = payload[pos : body + length]
        if period and record == period[0]:
            break
        period.append(record)
        pos = body + length
    if not period:
        return None
    repeats, rest = divmod(n, len(period))
    chunk = b"".join(period)
    whole = chunk * repeats  # compared in place (startswith: no copy of the payload)
    if not (
        payload.startswith(whole, start)
        and payload.startswith(b"".join(period[:rest]), start + len(whole))
        and start + len(whole) + sum(map(len, period[:rest])) <= end
    ):
        return None
    index: dict[bytes, int] = {}
    pattern = [index.setdefault(record, len(index)) for record in period]
    names = tuple(_name(record) for record in index)
    codes = np.tile(np.asarray(pattern, dtype=np.int32), repeats + 1)[:n]
    return names, codes


def _name(record: bytes) -> str:
    _, body = _varint(record, 1)
    return record[body:].decode()


def _field(data: bytes, number: int) -> tuple[int, int] | None:
    """(start, end) of the length-delimited top-level field ``number`` if it occurs exactly
    once in the message ``data``; None otherwise (or if the bytes do not parse)."""
    found: tuple[int, int] | None = None
    pos, size = 0, len(data)
    while pos < size:
        tag, pos = _varint(data, pos)
        if pos < 0:
            return None
        wire = tag & 7
        if wire == 0:
            _, pos = _varint(data, pos)
            if pos < 0:
                return None
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos < 0 or pos + length > size:
                return None
            if tag >> 3 == number:
                if found is not None:
                    return None  # occurrences merge: not one contiguous region
                found = (pos, pos + length)
            pos += length
        else:
            return None
    return found if pos == size else None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it); position -1 if the varint runs past the end."""
    value = shift = 0
    size = len(data)
    while pos < size and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    return 0, -1
