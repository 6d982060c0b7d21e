"""In-memory sinks standing in for Kafka in unit tests."""

from __future__ import annotations

import threading

from tracklog.sending.sink import DoneCallback
from tracklog.v1 import events_pb2 as pb


class RecordingSink:
    """Acknowledges at once and keeps every (key, envelope) in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, pb.Envelope]] = []
        self.closed = False

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        self.messages.append((key.decode(), pb.Envelope.FromString(value)))
        on_done(None)

    def close(self, timeout: float) -> None:
        self.closed = True

    def payloads(self) -> list[str]:
        return [str(env.WhichOneof("payload")) for _, env in self.messages]


class StalledSink(RecordingSink):
    """Blocks every send until `resume` (a broker that does not answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        self.go.wait()
        super().send(key, value, on_done)

    def resume(self) -> None:
        self.go.set()


class SilentSink(RecordingSink):
    """Takes messages but never acknowledges them."""

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> None:
        self.messages.append((key.decode(), pb.Envelope.FromString(value)))
