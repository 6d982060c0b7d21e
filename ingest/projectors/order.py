"""Where an event stands in its aggregate's order: the key last-writer-wins rows keep.

The key of an event is (occurred_at, producer_session, sequence) compared
lexicographically, written as one string that sorts the same way byte by byte (the
read model stores it in `COLLATE "C"` columns): occurred_at as 12 digits of seconds and
9 of nanoseconds, then the session, then the sequence as 20 digits. occurred_at orders
an aggregate's events across producer sessions; within one session and one instant the
sequence decides. An event without a producer_session (written before the envelope had
one) keeps only its time (sequence 0): two such events of the same instant tie, and a
tie goes to the later one in the log. An event without occurred_at sorts first.
"""

from __future__ import annotations

from tracklog.v1 import events_pb2 as pb

SEPARATOR = "/"  # below every digit and hex letter, so a shorter session sorts first


def order_key(envelope: pb.Envelope) -> str:
    """The event's order key (see the module docstring); pure."""
    seconds, nanos = 0, 0
    if envelope.HasField("occurred_at"):
        seconds = max(envelope.occurred_at.seconds, 0)
        nanos = envelope.occurred_at.nanos if envelope.occurred_at.seconds >= 0 else 0
    session = envelope.producer_session
    sequence = envelope.sequence if session else 0
    return f"{seconds:012d}{nanos:09d}{SEPARATOR}{session}{SEPARATOR}{sequence:020d}"
