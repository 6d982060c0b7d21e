"""Bad records go to the dead-letter topic: original key and bytes, plus why.

Headers: reason, source_topic, source_partition, source_offset (and detail when
there is more to say than the reason). Sent with acks=all; flush() raises if a
send failed, so the caller does not commit past a dead letter that was lost.

A dead letter is at most TRACKLOG_MAX_EVENT_BYTES (what the topic takes): a longer
original is cut to fit and says so in the header ``truncated_from`` (its size); such
a dead letter cannot be replayed (`tracklog dlq replay` skips it).
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaProducer

from tracklog.contract.settings import KafkaSettings
from tracklog.contract.topics import topic_of
from tracklog.ingest.records import Record

HEADER_ROOM_BYTES = 4096  # the headers and Kafka's record overhead
TRUNCATED_FROM = "truncated_from"
MAX_KEY_BYTES = 1024  # of a truncated dead letter (keys are aggregate ids, 64 at most)


class DeadLetters:
    def __init__(self, kafka: KafkaSettings) -> None:
        self.topic = kafka.dead_letter_topic
        self._options = kafka.client_options()
        self._max_bytes = kafka.max_event_bytes
        self._producer: Any = None
        self._pending: list[Any] = []

    def send(self, record: Record, reason: str, detail: str = "") -> None:
        headers = [
            ("reason", reason.encode()),
            ("source_topic", topic_of(record.position.log).encode()),
            ("source_partition", str(record.position.partition).encode()),
            ("source_offset", str(record.position.offset).encode()),
        ]
        if detail:
            headers.append(("detail", detail.encode()[:1024]))
        key, value = record.key, record.value or b""
        room = self._max_bytes - HEADER_ROOM_BYTES
        if len(key or b"") + len(value) > room:  # keep what fits, say how much there was
            headers.append((TRUNCATED_FROM, str(len(value)).encode()))
            key = None if key is None else key[:MAX_KEY_BYTES]
            value = value[: max(0, room - len(key or b""))]
        future = self._client().send(self.topic, key=key, value=value, headers=headers)
        self._pending.append(future)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every dead letter sent so far is acknowledged (raises if one failed)."""
        if self._producer is None:
            return
        self._producer.flush(timeout=timeout)
        pending, self._pending = self._pending, []
        for future in pending:
            future.get(timeout=timeout)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None

    def _client(self) -> Any:
        if self._producer is None:
            self._producer = KafkaProducer(
                **self._options,
                client_id="tracklog-ingest-dlq",
                acks="all",
                retries=5,
                max_in_flight_requests_per_connection=1,
                max_request_size=self._max_bytes,
            )
        return self._producer
