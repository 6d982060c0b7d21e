"""Flush tokens: what a client wrote, as (log, partition) -> highest acknowledged offset.

`Session.flush_token()` returns one; the query service's `WaitFor` returns once the
projection has passed every position in it (read-your-writes). A token is compact
JSON, `{"v": 1, "p": [[log, partition, offset], ...]}`, where `log` is the topic's
incarnation name (`tracklog.contract.topics.log_name`). The empty string names nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

Positions = dict[tuple[str, int], int]
VERSION = 1


class FlushToken(str):
    """What `flush()` returns: the token naming what was written (a str, for WaitFor),
    truthy only when everything queued was acknowledged (so `if flush():` still works)."""

    ok: bool

    def __new__(cls, token: str, ok: bool) -> FlushToken:
        instance = super().__new__(cls, token)
        instance.ok = ok
        return instance

    def __bool__(self) -> bool:
        return self.ok


def encode(positions: Mapping[tuple[str, int], int]) -> str:
    if not positions:
        return ""
    rows = [[log, partition, offset] for (log, partition), offset in sorted(positions.items())]
    return json.dumps({"v": VERSION, "p": rows}, separators=(",", ":"))


def decode(token: str) -> Positions:
    """The positions of a token; ValueError naming the problem when it is not one."""
    if not token:
        return {}
    try:
        document = json.loads(token)
    except ValueError as exc:
        raise ValueError(f"not a flush token: {exc}") from None
    if not isinstance(document, dict) or document.get("v") != VERSION:
        raise ValueError("not a flush token (unknown version)")
    rows = document.get("p")
    if not isinstance(rows, list):
        raise ValueError("not a flush token (no positions)")
    positions: Positions = {}
    for row in rows:
        if (
            not isinstance(row, list)
            or len(row) != 3
            or not isinstance(row[0], str)
            or any(isinstance(x, bool) or not isinstance(x, int) for x in row[1:])
            or row[1] < 0
            or not 0 <= row[2] < 2**63
        ):
            raise ValueError(f"not a flush token (bad position {row!r})")
        positions[(row[0], row[1])] = max(positions.get((row[0], row[1]), -1), row[2])
    return positions


def merge(tokens: Iterable[str]) -> str:
    """One token covering all the given ones (the highest offset per partition)."""
    merged: Positions = {}
    for token in tokens:
        for key, offset in decode(token).items():
            merged[key] = max(merged.get(key, -1), offset)
    return encode(merged)
