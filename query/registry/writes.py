"""Registry writes: produce the decided event, wait for the projection, read the outcome.

A write is one event on the registry topic (which only this service may write; the worker
refuses registry events anywhere else), keyed by the model id (one model's events stay
in order on one partition), its envelope numbered in this service's producer session
(tracklog.contract.envelopes) and naming the actor who asked. The producer (acks=all,
idempotent) reports the event's (partition, offset); the call then waits until the
Postgres projection's tracking row for that partition of this incarnation of the topic
(`topics.log_name`) has passed the offset, and answers with what the projection recorded
for the event: OK (and the version number a create allocated) or the conflict it found.

Idempotent calls: a request carrying a request_id writes the event `event_id_for` derives
from it (with the call and the actor, so that one caller cannot read or block another's
call). Before deciding, the servicer asks `first_outcome`: a retry of a call already
projected answers the stored outcome and writes nothing. Retries in flight at once in
this service wait for each other (`once`); copies that still reach Kafka (a retry in
another replica, or after a lost acknowledgement) carry the same event id, which the
worker applies once, and every copy answers the one outcome.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from tracklog.contract.envelopes import ProducerSession
from tracklog.contract.ids import new_event_id
from tracklog.contract.settings import KafkaSettings
from tracklog.contract.topics import log_name
from tracklog.query.errors import FailedPrecondition, InvalidArgument, Unavailable
from tracklog.query.registry import store_versions as store
from tracklog.query.registry.records import CommandResult
from tracklog.query.stores.postgres import Pool
from tracklog.query.stores.projection_wait import wait_for_positions
from tracklog.registry.decider import Payload
from tracklog.registry.errors import from_code

DEFAULT_TIMEOUT_SECONDS = 30.0
REQUEST_NAMESPACE = uuid.UUID("3f0c8a52-1d4e-5b7a-8c9d-7472656c6f67")


def event_id_for(request_id: str, call: str, actor: str) -> str:
    """The event id of a write: random without a request id, else derived from the call
    (e.g. "CreateVersion"), the actor and the request id (a UUID in any of its spellings)."""
    if not request_id:
        return new_event_id()
    try:
        normalized = uuid.UUID(request_id).hex
    except ValueError as exc:
        raise InvalidArgument(f"request_id must be a UUID, not {request_id[:80]!r}") from exc
    return uuid.uuid5(REQUEST_NAMESPACE, f"{call}\n{actor}\n{normalized}").hex


class RegistryWrites:
    """Sends registry events and waits for their projection (one producer per service)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        pool: Pool,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        projection: str = "postgres",
    ) -> None:
        self._kafka = kafka
        self._pool = pool
        self._timeout = timeout
        self._projection = projection
        self._producer: Any = None
        self._lock = threading.Lock()
        self._session = ProducerSession()
        self._numbering = threading.Lock()
        self._calls: dict[str, tuple[threading.Lock, list[int]]] = {}  # event id -> (lock, users)
        self._calls_lock = threading.Lock()

    @contextmanager
    def once(self, event_id: str) -> Iterator[None]:
        """Calls of one event id in this service, one at a time (a retry waits for the
        first attempt, then finds its outcome)."""
        with self._calls_lock:
            lock, users = self._calls.setdefault(event_id, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._calls_lock:
                users[0] -= 1
                if not users[0]:
                    del self._calls[event_id]

    def first_outcome(self, event_id: str) -> CommandResult | None:
        """The outcome the projection recorded for this event id (a retried call): its OK
        result, or its error raised again; None if the event was never projected."""
        result = store.command_result(self._pool, event_id)
        if result is not None and result.code != "OK":
            raise from_code(result.code, result.message)
        return result

    def submit(
        self,
        model_id: str,
        payload: Payload,
        actor: str = "",
        event_id: str = "",
        occurred_ns: int | None = None,
    ) -> CommandResult:
        """Write one event (``actor``: who asked; ``event_id``: from `event_id_for`, random
        when ""; ``occurred_ns``: when it happened, now when None: an import's creation
        time, origin.py); return the projection's OK result or raise its error."""
        event_id = event_id or new_event_id()
        deadline = time.monotonic() + self._timeout
        topic = self._kafka.registry_topic
        try:
            producer = self._get_producer()
            with self._numbering:  # handed to the producer in sequence order
                env = self._session.envelope(
                    event_id=event_id,
                    aggregate_id=model_id,
                    occurred_ns=time.time_ns() if occurred_ns is None else occurred_ns,
                    payload=payload,
                    actor=actor,
                )
                sent = producer.send(topic, key=model_id.encode(), value=env.SerializeToString())
            metadata = sent.get(timeout=self._timeout)
            log = log_name(topic, producer._metadata.topic_id(topic))
        except KafkaError as exc:
            raise Unavailable(f"could not write the registry event to Kafka: {exc}") from exc
        self._wait(log, metadata.partition, metadata.offset, deadline, event_id)
        result = store.command_result(self._pool, event_id)
        if result is None:
            raise FailedPrecondition(
                f"the ingest worker rejected registry event {event_id} (see the dead-letter topic)"
            )
        if result.code != "OK":
            raise from_code(result.code, result.message)
        return result

    def _wait(self, log: str, partition: int, offset: int, deadline: float, event_id: str) -> None:
        wait_for_positions(
            self._pool,
            {(log, partition): offset},
            max(0.0, deadline - time.monotonic()),
            projection=self._projection,
            what=f"registry event {event_id}",
        )

    def _get_producer(self) -> Any:
        with self._lock:
            if self._producer is None:
                self._producer = KafkaProducer(
                    **self._kafka.client_options(),
                    client_id="tracklog-registry",
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=0,
                )
            return self._producer

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None
