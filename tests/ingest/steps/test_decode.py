"""Decode: every record keeps its place; an invalid one is rejected with the reason."""

from __future__ import annotations

from tests.ingest.steps.recording_step import LOG, RecordingStep, new_tally, records
from tracklog.ingest.batch import DecodedBatch
from tracklog.ingest.records import Position, Record
from tracklog.ingest.steps.decode import Decode


def test_decode_passes_every_record_on_and_rejects_the_invalid_ones() -> None:
    good = records(3)
    junk = Record(Position(LOG, 0, 3), b"junk", b"\x08\xff\xff not protobuf")
    last = RecordingStep()
    tally = new_tally()
    Decode(None, tally, last).submit([*good, junk])
    (decoded,) = last.submitted
    assert isinstance(decoded, DecodedBatch)
    assert decoded.records == (*good, junk)
    assert [e is None for e in decoded.envelopes] == [False, False, False, True]
    assert [r.record for r in decoded.rejected] == [junk]
    assert decoded.rejected[0].reason.startswith("undecodable envelope")
    assert tally.stats.project_seconds > 0


def test_decode_refuses_records_over_the_size_limit() -> None:
    (record,) = records(1)
    last = RecordingStep()
    Decode(10, new_tally(), last).submit([record])
    (decoded,) = last.submitted
    assert decoded.envelopes == (None,)
    assert "bytes" in decoded.rejected[0].reason


def test_decode_polls_and_joins_the_next_step() -> None:
    last = RecordingStep()
    step = Decode(None, new_tally(), last)
    step.poll()
    step.join(5.0)
    assert (last.polls, last.joined) == (1, [5.0])
