"""Hypothesis strategies for fuzzed events-topic records (key, value bytes).

Every payload of the Envelope is filled field by field from its descriptor with
mostly plausible values and a share of hostile ones (huge and negative numbers,
NaN/inf, unknown enum values, NUL characters, oversized strings, bad ids), then
possibly damaged as bytes (truncated, random bytes, invalid UTF-8 in a string,
unknown payloads and fields, wrong wire types). `must_reject` marks records no
correct decoder may accept; whether the others are valid is the decoder's call.

Fuzzed aggregates use ids from small pools prefixed `fz` so that events of one
aggregate interact (write-once params, name conflicts, version numbers); no
fuzzed string starts with `ok-`, the prefix of the test's controlled events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from hypothesis import strategies as st

from tracklog.v1 import events_pb2 as pb

INT64_EDGES = (0, 1, -1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63 - 1, -(2**63))
FLOAT_EDGES = (float("nan"), float("inf"), float("-inf"), 5e-324, -0.0, 1.7976931348623157e308)
UTF8_MARK = "\u2603BADUTF8\u2603"  # replaced by invalid UTF-8 of the same byte length
BAD_UTF8 = b"\xff\xfe\xc3\x28" + b"\xa0" * (len(UTF8_MARK.encode()) - 4)
PAYLOADS = [f.name for f in pb.Envelope.DESCRIPTOR.oneofs_by_name["payload"].fields]
AGGREGATE_OF = {
    **dict.fromkeys(PAYLOADS, pb.AGGREGATE_TYPE_RUN),
    **{p: pb.AGGREGATE_TYPE_EXPERIMENT for p in PAYLOADS if p.startswith("experiment_")},
    **{p: pb.AGGREGATE_TYPE_REGISTERED_MODEL for p in PAYLOADS if "model" in p},
}


@dataclass(frozen=True, slots=True)
class Fuzzed:
    key: bytes | None
    value: bytes
    must_reject: bool
    how: str  # which damage was done, for the figures


def _not_ok(text: str) -> str:
    return "x" + text if text.startswith("ok-") else text


GOOD_TEXT = st.sampled_from(
    ["loss", "acc", "lr", "phase", "train", "fz model", "a/b.txt", "0.1", "", "v1", "prod"]
)
HOSTILE_TEXT = st.one_of(
    st.text(max_size=12).map(_not_ok),
    st.sampled_from(["\x00", "a\x00b", "../up", "/abs", " ", "\u00e9t\u00e9", "a\x01b"]),
    st.sampled_from([251, 257, 501, 6001, 8001, 70_000]).map(lambda n: "k" * n),
)
ID_POOL = st.sampled_from(["fz-run-0", "fz-run-1", "fz-run-2", "fz-exp-0", "fz-exp-1", "fz-m-0"])
TEXT = st.one_of(GOOD_TEXT, GOOD_TEXT, GOOD_TEXT, HOSTILE_TEXT)
INT64 = st.one_of(st.integers(0, 5), st.integers(-(2**63), 2**63 - 1), st.sampled_from(INT64_EDGES))
DOUBLE = st.one_of(st.floats(-1e6, 1e6), st.sampled_from(FLOAT_EDGES))


def _string(draw: st.DrawFn, name: str) -> str:
    if name == "digest" and draw(st.booleans()):
        return uuid.UUID(int=draw(st.integers(0, 2**128 - 1))).hex * 2  # a plausible SHA-256
    if name.endswith("_id"):
        return str(draw(st.one_of(ID_POOL, ID_POOL, HOSTILE_TEXT)))
    return str(draw(TEXT))


def _scalar(draw: st.DrawFn, field: FieldDescriptor) -> object:
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        return _string(draw, field.name)
    if t == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        known = st.sampled_from([v.number for v in field.enum_type.values])
        return draw(st.one_of(known, known, st.integers(-5, 99)))
    if t == FieldDescriptor.TYPE_BOOL:
        return draw(st.booleans())
    if t == FieldDescriptor.TYPE_DOUBLE:
        return draw(DOUBLE)
    if t == FieldDescriptor.TYPE_UINT64:
        return draw(st.one_of(st.integers(0, 9), st.just(2**64 - 1)))
    return draw(st.one_of(st.integers(1, 3), st.integers(1, 3), INT64))  # versions, sizes


def _fill(draw: st.DrawFn, message: Any) -> None:
    descriptor = message.DESCRIPTOR
    if descriptor.full_name == "google.protobuf.Timestamp":
        message.seconds = draw(st.one_of(st.just(1_700_000_000), st.integers(-(2**40), 2**40)))
        message.nanos = draw(st.one_of(st.just(0), st.integers(-(2**31), 2**31 - 1)))
        return
    if descriptor.name == "MetricsLogged":
        _metrics(draw, message)
        return
    for field in descriptor.fields:
        if field.is_repeated:
            for _ in range(draw(st.integers(0, 3))):
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    _fill(draw, getattr(message, field.name).add())
                else:
                    getattr(message, field.name).append(_scalar(draw, field))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if draw(st.integers(0, 4)):  # mostly present
                _fill(draw, getattr(message, field.name))
        elif draw(st.integers(0, 5)):  # mostly set
            setattr(message, field.name, _scalar(draw, field))


def _metrics(draw: st.DrawFn, m: Any) -> None:
    n = draw(st.integers(0, 30))
    lengths = [n, n, n, n]
    if draw(st.integers(0, 9)) == 0:  # ragged columns
        lengths[draw(st.integers(0, 3))] += 1 + draw(st.integers(0, 5))
    keys = draw(st.lists(st.one_of(GOOD_TEXT, GOOD_TEXT, HOSTILE_TEXT), min_size=1, max_size=3))
    m.keys.extend(keys[i % len(keys)] for i in range(lengths[0]))
    m.steps.extend(draw(st.lists(INT64, min_size=lengths[1], max_size=lengths[1])))
    m.timestamps_ms.extend(draw(st.lists(INT64, min_size=lengths[2], max_size=lengths[2])))
    m.values.extend(draw(st.lists(DOUBLE, min_size=lengths[3], max_size=lengths[3])))


@st.composite
def envelopes(draw: st.DrawFn) -> pb.Envelope:
    """An envelope of any payload, filled with plausible and hostile values."""
    kind = draw(st.sampled_from(PAYLOADS))
    e = pb.Envelope(
        event_id=uuid.uuid4().hex,
        aggregate_id=draw(ID_POOL),
        aggregate_type=AGGREGATE_OF[kind],
        sequence=draw(st.integers(1, 100)),
    )
    e.occurred_at.FromMilliseconds(1_700_000_000_000 + draw(st.integers(0, 10**9)))
    _fill(draw, getattr(e, kind))
    getattr(e, kind).SetInParent()  # an empty payload message still selects the oneof
    hostile = draw(st.integers(0, 5))
    if hostile == 0:
        field = draw(st.sampled_from(["event_id", "aggregate_id", "aggregate_type", "sequence"]))
        setattr(e, field, _scalar(draw, e.DESCRIPTOR.fields_by_name[field]))
        if field == "event_id":  # hostile maybe, but unique (a repeated id is a resend)
            e.event_id = f"{draw(HOSTILE_TEXT)}-{uuid.uuid4().hex[:12]}"
    elif hostile == 1:
        _fill(draw, e.occurred_at)
    elif hostile == 2:
        e.ClearField("occurred_at")
    return e


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


@st.composite
def fuzzed(draw: st.DrawFn) -> Fuzzed:
    """One record for the events topic: a fuzzed envelope, maybe damaged as bytes."""
    e = draw(envelopes())
    value = e.SerializeToString()
    key: bytes | None = e.aggregate_id.encode()
    how = draw(
        st.sampled_from(
            ["fields"] * 10
            + ["bytes", "truncated", "bad utf-8", "unknown payload"]
            + ["unknown field", "wrong wire type", "odd key"]
        )
    )
    must_reject = False
    if how == "bytes":
        value = draw(st.binary(max_size=200))
    elif how == "truncated" and value:
        value = value[: draw(st.integers(0, len(value) - 1))]
        must_reject = True  # the payload is the last field: any prefix lacks it
    elif how == "bad utf-8":
        e.event_id = "BADUTF8"
        value = e.SerializeToString().replace(b"BADUTF8", b"\xff\xfe\xc3\x28\xa0\xa0\xa0", 1)
        must_reject = True
    elif how == "unknown payload":
        e.ClearField(e.WhichOneof("payload") or "event_id")
        value = e.SerializeToString() + _field(draw(st.integers(60, 2000)), b"\x0a\x01x")
        must_reject = True
    elif how == "unknown field":
        value += _varint(draw(st.integers(2001, 100_000)) << 3) + _varint(draw(st.integers(0, 9)))
    elif how == "wrong wire type":
        value += _varint(draw(st.sampled_from([1, 2, 3, 10, 13])) << 3 | 5) + b"\x00" * 4
    elif how == "odd key":
        key = draw(st.sampled_from([None, b"", b"\x00\xff", b"k" * 100_000]))
    return Fuzzed(key, value, must_reject, how)


def bulky(rows: int = 100_000) -> list[Fuzzed]:
    """Columns of 100k elements: three with mismatched lengths, one valid batch."""
    out: list[Fuzzed] = []
    for ragged in (0, 1, 2, None):
        e = pb.Envelope(
            event_id=uuid.uuid4().hex,
            aggregate_id="fz-run-bulk",
            aggregate_type=pb.AGGREGATE_TYPE_RUN,
            sequence=1,
        )
        e.occurred_at.FromMilliseconds(1_700_000_000_000)
        m = e.metrics_logged
        m.keys.extend(["bulk"] * (rows + (ragged == 0)))
        m.steps.extend(range(rows + (ragged == 1)))
        m.timestamps_ms.extend([1_700_000_000_000] * (rows + (ragged == 2)))
        m.values.extend(float(i) for i in range(rows))
        out.append(Fuzzed(b"fz-run-bulk", e.SerializeToString(), ragged is not None, "bulk"))
    return out
