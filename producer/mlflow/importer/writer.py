"""Producing the import's envelopes to the events topic, and waiting for the worker.

`EventWriter` hands envelopes to the SDK's `KafkaSink` (acks from all replicas,
idempotent, compressed), keyed by their aggregate id as the SDK keys them, with at most
`max_pending` unacknowledged at once. `wait_acked` returns once the broker has
acknowledged everything (raising if anything was lost); `flush_token` names what was
written, and `wait_projected` asks the query service's WaitFor until the worker has
applied it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import grpc

from tracklog.contract import flush_tokens
from tracklog.contract.settings import KafkaSettings
from tracklog.sending.sink import EventSink, KafkaSink
from tracklog.v1 import events_pb2 as pb
from tracklog.v1 import query_pb2_grpc, tracking_pb2

MAX_PENDING = 2_000
WAIT_STEP_SECONDS = 30.0


class EventsLost(RuntimeError):
    """The broker did not acknowledge some events (the import can be run again)."""


class EventWriter:
    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        sink_factory: Callable[[], EventSink] | None = None,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._sink: EventSink = sink_factory() if sink_factory else KafkaSink(kafka, linger_ms=20)
        self._max_pending = max_pending
        self._done = threading.Condition()
        self._pending = 0
        self._errors: list[BaseException] = []
        self.sent = 0

    def send(self, envelopes: Iterable[pb.Envelope]) -> int:
        """Hand the envelopes over (blocking while too many are unacknowledged); their count."""
        count = 0
        for env in envelopes:
            with self._done:
                while self._pending >= self._max_pending and not self._errors:
                    self._done.wait(1.0)
                self._raise_lost()
                self._pending += 1
            self._sink.send(env.aggregate_id.encode(), env.SerializeToString(), self._acked)
            count += 1
        self.sent += count
        return count

    def _acked(self, error: BaseException | None) -> None:
        with self._done:
            self._pending -= 1
            if error is not None:
                self._errors.append(error)
            self._done.notify_all()

    def _raise_lost(self) -> None:
        if self._errors:
            raise EventsLost(
                f"{len(self._errors)} events were not acknowledged by Kafka "
                f"(first: {self._errors[0]}); run the import again to resume"
            )

    def wait_acked(self, timeout: float = 300.0) -> None:
        """Return once every event sent so far is acknowledged; EventsLost otherwise."""
        deadline = time.monotonic() + timeout
        with self._done:
            while self._pending > 0 and not self._errors:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise EventsLost(f"{self._pending} events unacknowledged after {timeout:g} s")
                self._done.wait(min(remaining, 1.0))
            self._raise_lost()

    def flush_token(self) -> str:
        """What was acknowledged so far, as a flush token (WaitFor's argument)."""
        positions = getattr(self._sink, "acked_positions", None)
        return flush_tokens.encode(positions()) if callable(positions) else ""

    def close(self, timeout: float = 30.0) -> None:
        self._sink.close(timeout)


def wait_projected(
    stub: query_pb2_grpc.QueryServiceStub, token: str, timeout: float = 600.0
) -> bool:
    """Ask WaitFor until the worker has applied everything ``token`` names (or time is up)."""
    if not token:
        return True
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        step = min(WAIT_STEP_SECONDS, remaining)
        request = tracking_pb2.WaitForRequest(token=token, timeout_seconds=step)
        try:
            stub.WaitFor(request, timeout=step + 10)
            return True
        except grpc.RpcError as error:  # DEADLINE_EXCEEDED: not yet, ask again
            if (
                not isinstance(error, grpc.Call)
                or error.code() != grpc.StatusCode.DEADLINE_EXCEEDED
            ):
                raise
    return False
