"""Flush tokens: encode/decode/merge, and what a Session's flush_token names."""

from __future__ import annotations

import pytest

from tests.producer.fakes import RecordingSink
from tracklog import Session
from tracklog.contract import flush_tokens


def test_round_trip_and_merge() -> None:
    token = flush_tokens.encode({("t@ab", 1): 7, ("t@ab", 0): 3})
    assert flush_tokens.decode(token) == {("t@ab", 0): 3, ("t@ab", 1): 7}
    assert flush_tokens.encode({}) == "" and flush_tokens.decode("") == {}
    other = flush_tokens.encode({("t@ab", 1): 9, ("u", 2): 1})
    assert flush_tokens.decode(flush_tokens.merge([token, other])) == {
        ("t@ab", 0): 3,
        ("t@ab", 1): 9,
        ("u", 2): 1,
    }


@pytest.mark.parametrize(
    "bad", ["x", "[]", '{"v": 2, "p": []}', '{"v": 1, "p": [["t", -1, 0]]}', '{"v":1,"p":[[1,2]]}']
)
def test_malformed_tokens_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="flush token"):
        flush_tokens.decode(bad)


class PositionedSink(RecordingSink):
    """Acknowledges each message at the next offset of partition 0."""

    def acked_positions(self) -> dict[tuple[str, int], int]:
        return {("events@1", 0): len(self.messages) - 1} if self.messages else {}


def test_session_flush_token_names_the_acknowledged_positions() -> None:
    sink = PositionedSink()
    session = Session(sink_factory=lambda: sink, linger_seconds=0.01, query_addr="")
    try:
        assert session.flush_token(5) == ""
        with session.start_run():
            session.log_metric("loss", 1.0)
        token = session.flush_token(5)
        assert flush_tokens.decode(token) == {("events@1", 0): len(sink.messages) - 1}
        flushed = session.flush(5)  # truthy when acknowledged, and the token itself
        assert flushed and flushed.ok
        assert flushed == token and flush_tokens.decode(flushed) == flush_tokens.decode(token)
    finally:
        session.close(5)
