"""Protobuf wire-format pieces built by hand, where bytes are put together without building a
message: the shipper appends an event's payload to its envelope, the query service packs
metric columns. Pure.

`varint` is the unsigned LEB128 varint, which ClickHouse's Native format also uses for its
lengths (the ingest worker's Native blocks).
"""

from __future__ import annotations

WIRE_LENGTH_DELIMITED = 2


def varint(value: int) -> bytes:
    """One non-negative integer as a varint: 7 bits per byte, low groups first."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def length_delimited(number: int, payload: bytes) -> bytes:
    """Field ``number`` holding ``payload`` (a message, string, bytes or packed column):
    tag, length, payload. An empty payload still gives the tag and a zero length."""
    return varint(number << 3 | WIRE_LENGTH_DELIMITED) + varint(len(payload)) + payload
