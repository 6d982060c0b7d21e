"""Events stamped with a chosen time, producer session and sequence, and a writer that
applies them one record per batch, for the last-writer-wins tests."""

from __future__ import annotations

import uuid

from google.protobuf.message import Message

from tracklog.contract import envelopes
from tracklog.ingest.projectors.postgres import project
from tracklog.ingest.records import Position
from tracklog.ingest.writers.postgres import Applied, PostgresWriter
from tracklog.v1 import events_pb2 as pb

T0_NS = 1_700_000_000_000_000_000
SECOND = 1_000_000_000


def stamped(
    aggregate_id: str,
    payload: Message,
    *,
    at: int,
    session: str = "aaaa",
    sequence: int = 1,
    event_id: str = "",
) -> pb.Envelope:
    """An event `at` seconds after T0 from `session` ("" : an event from before sessions)."""
    return envelopes.envelope(
        event_id=event_id or uuid.uuid4().hex,
        aggregate_id=aggregate_id,
        occurred_ns=T0_NS + at * SECOND,
        payload=payload,
        producer_session=session,
        sequence=sequence if session else 0,
    )


class Log:
    """Appends records to one partition: each `apply` is the next offsets, as a worker sees
    a late copy (a spool backlog, a `tracklog dlq replay`) after what came before."""

    def __init__(self, writer: PostgresWriter, topic: str = "events") -> None:
        self.writer = writer
        self.topic = topic
        self.offset = 0

    def apply(self, *events: pb.Envelope) -> Applied:
        batch = []
        for event in events:
            batch.append((Position(self.topic, 0, self.offset), project(event)))
            self.offset += 1
        return self.writer.apply(batch)
