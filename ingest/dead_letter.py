"""Bad records go to the dead-letter topic: original key and bytes, plus why.

Headers: reason, source_topic, source_partition, source_offset (and detail when
there is more to say than the reason). Sent with acks=all; flush() raises if a
send failed, so the caller does not commit past a dead letter that was lost.
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaProducer

from tracklog.ingest.records import Record
from tracklog.settings import KafkaSettings
from tracklog.topics import topic_of

# The consumer's max_partition_fetch_bytes (ingest/consumer.py): a record up to that
# size can be consumed, so it must fit a dead-letter request too.
MAX_DEAD_LETTER_BYTES = 16 * 1024 * 1024 + 64 * 1024  # + room for the headers


class DeadLetters:
    def __init__(self, kafka: KafkaSettings) -> None:
        self.topic = kafka.dead_letter_topic
        self._options = kafka.client_options()
        self._producer: Any = None
        self._pending: list[Any] = []

    def send(self, record: Record, reason: str, detail: str = "") -> None:
        headers = [
            ("reason", reason.encode()),
            ("source_topic", topic_of(record.position.topic).encode()),
            ("source_partition", str(record.position.partition).encode()),
            ("source_offset", str(record.position.offset).encode()),
        ]
        if detail:
            headers.append(("detail", detail.encode()))
        future = self._client().send(
            self.topic, key=record.key, value=record.value or b"", headers=headers
        )
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
                # whatever the worker can consume it must be able to dead-letter
                max_request_size=MAX_DEAD_LETTER_BYTES,
            )
        return self._producer
