"""The shared clause filter's tokenizer (experiments, logged models): one linear pass."""

from __future__ import annotations

import time

import pytest

from tracklog.query.errors import InvalidArgument
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


def test_a_megabyte_filter_tokenizes_in_one_pass() -> None:
    # The former tokenizer copied the rest of the text at every token: 9 s for 480 KB,
    # about 40 s for this one. One pass takes a fraction of a second.
    text = " AND ".join(["name = 'abcdefgh'"] * 50_000)  # about 1.1 MB
    started = time.monotonic()
    tokens = _tokens(text)
    assert time.monotonic() - started < 10.0
    assert len(tokens) == 4 * 50_000 - 1
