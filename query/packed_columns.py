"""Protobuf packed repeated fields from numpy columns, encoded in bulk (pure).

A page of metric history is three columns of up to 100,000 values. Handing them to a
message as Python lists costs a Python object per value twice (the list, then the
message's copy); instead the wire bytes of each packed field are built with numpy (a
double is its 8 little-endian bytes, an int64 a varint of 1 to 10 bytes) and the message
parses them with `MergeFromString`, in C. `packed_int64` / `packed_double` give one
field's bytes, tag and length included; an empty column gives no bytes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tracklog.contract.wire import length_delimited

_MAX_VARINT_BYTES = 10  # a negative int64 takes all ten


def varints(values: npt.NDArray[np.int64]) -> bytes:
    """The int64 values as consecutive varints (two's complement, as protobuf's int64)."""
    bits = np.ascontiguousarray(values, dtype=np.int64).view(np.uint64)
    if not len(bits):
        return b""
    sizes = np.ones(len(bits), dtype=np.int64)  # bytes per value: one per 7-bit group
    for group in range(1, _MAX_VARINT_BYTES):
        beyond = bits >= np.uint64(1 << (7 * group))
        if not beyond.any():
            break
        sizes += beyond
    starts = np.cumsum(sizes) - sizes
    out = np.empty(int(starts[-1] + sizes[-1]), dtype=np.uint8)
    for group in range(int(sizes.max())):
        live = sizes > group
        low_bits = (bits[live] >> np.uint64(7 * group)) & np.uint64(0x7F)
        continued = (sizes[live] > group + 1).astype(np.uint8) << np.uint8(7)
        out[starts[live] + group] = low_bits.astype(np.uint8) | continued
    return out.tobytes()


def _field(number: int, payload: bytes) -> bytes:
    if not payload:
        return b""
    return length_delimited(number, payload)


def packed_int64(number: int, values: npt.NDArray[np.int64]) -> bytes:
    """Field `number` (a `repeated int64`) holding `values`, packed."""
    return _field(number, varints(values))


def packed_double(number: int, values: npt.NDArray[np.float64]) -> bytes:
    """Field `number` (a `repeated double`) holding `values`, packed."""
    return _field(number, np.ascontiguousarray(values, dtype="<f8").tobytes())
