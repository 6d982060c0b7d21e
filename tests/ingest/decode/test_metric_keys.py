"""Key codes read from the record bytes equal those of the parsed message, whatever the
layout; the general path takes over whenever the fast one cannot be sure."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.ingest.events import metrics_logged
from tracklog.ingest.decode import metric_keys
from tracklog.ingest.decode.metric_keys import key_codes, key_names
from tracklog.v1 import events_pb2 as pb


def envelope(keys: Sequence[str]) -> pb.Envelope:
    return metrics_logged("r1", [(key, i, 1000 + i, float(i)) for i, key in enumerate(keys)])


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


def decoded(names: tuple[str, ...], codes: Sequence[int]) -> list[str]:
    return [names[code] for code in codes]


@pytest.mark.parametrize(
    "keys",
    [
        ["loss", "acc", "lr"] * 100,  # log_metrics at every step
        ["loss"] * 1000,  # one key's history (the importer)
        ["b", "c", "a", "b", "c", "a", "b"],  # starting mid-period, ending mid-period
        ["a", "b", "a", "c"] * 10,  # a repeat inside the pattern: the general path
        [f"k{i}" for i in range(300)],  # every key different
        ["é", "ü" * 200, "é", "ü" * 200],  # multi-byte names, a 2-byte length
        [],
    ],
)
def test_fast_path_agrees_with_the_parsed_message(keys: list[str]) -> None:
    e = envelope(keys)
    names, codes = key_codes(e.metrics_logged.keys, e.SerializeToString())
    assert decoded(names, codes.tolist()) == keys
    assert names == tuple(dict.fromkeys(keys))  # order of first appearance
    general_names, general_codes = key_codes(e.metrics_logged.keys)
    assert (names, codes.tolist()) == (general_names, general_codes.tolist())


def test_the_periodic_layout_takes_the_fast_path() -> None:
    e = envelope(["loss", "acc"] * 500)
    assert metric_keys._periodic(e.SerializeToString(), 1000) is not None
    assert metric_keys._periodic(envelope(["a", "b", "a", "c"]).SerializeToString(), 4) is None


def test_keys_after_the_other_fields_or_split_take_the_general_path() -> None:
    e = envelope(["loss", "acc"] * 5)
    m = e.metrics_logged
    # the same message with its fields in another order (valid protobuf): steps first
    body = (
        pb.MetricsLogged(steps=m.steps).SerializeToString()
        + pb.MetricsLogged(
            keys=m.keys, timestamps_ms=m.timestamps_ms, values=m.values
        ).SerializeToString()
    )
    head = pb.Envelope(
        event_id=e.event_id, aggregate_id=e.aggregate_id, aggregate_type=e.aggregate_type
    ).SerializeToString()
    payload = head + b"\x6a" + varint(len(body)) + body  # field 13, length-delimited
    parsed = pb.Envelope.FromString(payload)
    assert list(parsed.metrics_logged.keys) == list(m.keys)
    assert metric_keys._periodic(payload, 10) is None
    names, codes = key_codes(parsed.metrics_logged.keys, payload)
    assert decoded(names, codes.tolist()) == list(m.keys)
    # metrics_logged given twice (protobuf merges the occurrences): the general path
    twice = (
        e.SerializeToString()
        + pb.Envelope(
            metrics_logged=pb.MetricsLogged(keys=["x"], steps=[1], timestamps_ms=[1], values=[1.0])
        ).SerializeToString()
    )
    merged = pb.Envelope.FromString(twice)
    names, codes = key_codes(merged.metrics_logged.keys, twice)
    assert decoded(names, codes.tolist()) == [*m.keys, "x"]


@given(st.lists(st.sampled_from(["a", "bb", "a" * 130, "ccc"]), max_size=60))
def test_any_sequence_of_keys_round_trips(keys: list[str]) -> None:
    e = envelope(keys)
    names, codes = key_codes(e.metrics_logged.keys, e.SerializeToString())
    assert decoded(names, codes.tolist()) == keys


@pytest.mark.parametrize("keys", [["loss", "acc"] * 50, ["a", "b", "a", "c"] * 5, []])
def test_names_alone_are_the_codes_names(keys: list[str]) -> None:
    e = envelope(keys)
    for payload in (e.SerializeToString(), None):
        assert key_names(e.metrics_logged.keys, payload) == key_codes(e.metrics_logged.keys)[0]
