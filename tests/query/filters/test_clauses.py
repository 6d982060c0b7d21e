"""The shared clause filter's tokenizer (experiments, logged models): one linear pass."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from tracklog.query.errors import InvalidArgument
from tracklog.query.filters import clauses
from tracklog.query.filters.clauses import _tokens


def test_tokens_keep_their_positions_and_trailing_space_ends_the_filter() -> None:
    assert _tokens("  name = 'a'  AND tags.`k k` != \"b\"  \n") == [
        ("ident", "name", 2),
        ("op", "=", 7),
        ("string", "'a'", 9),
        ("ident", "AND", 14),
        ("ident", "tags.`k k`", 18),
        ("op", "!=", 29),
        ("string", '"b"', 32),
    ]
    assert _tokens("   ") == []
    with pytest.raises(InvalidArgument, match=r"at position 10: unexpected '\?\?'"):
        _tokens("name =    ??")


class _CountedPattern:
    """A compiled pattern that records where each `match` starts (and copies nothing)."""

    def __init__(self, pattern: re.Pattern[str], starts: list[int]) -> None:
        self._pattern = pattern
        self._starts = starts

    def match(self, text: str, pos: int = 0) -> re.Match[str] | None:
        self._starts.append(pos)
        return self._pattern.match(text, pos)


class _UncopiedText(str):
    """A text that fails the test if any part of it is copied by slicing."""

    def __getitem__(self, index: Any) -> str:
        raise AssertionError(f"the tokenizer copied text[{index!r}]")


def test_a_megabyte_filter_tokenizes_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    # The former tokenizer copied the rest of the text at every token: 9 s for 480 KB,
    # about 40 s for this one. One pass matches each token and each gap once, in place, from
    # left to right; its time is a figure of tests/benchmarks/bench_search.py.
    starts: list[int] = []
    monkeypatch.setattr(clauses, "_TOKEN", _CountedPattern(clauses._TOKEN, starts))
    monkeypatch.setattr(clauses, "_SPACE", _CountedPattern(clauses._SPACE, starts))
    text = _UncopiedText(" AND ".join(["name = 'abcdefgh'"] * 50_000))  # about 1.1 MB
    tokens = _tokens(text)
    assert len(tokens) == 4 * 50_000 - 1
    assert len(starts) == 2 * len(tokens) + 1  # a gap before each token, and the last gap
    assert all(a <= b for a, b in itertools.pairwise(starts))  # never backwards
