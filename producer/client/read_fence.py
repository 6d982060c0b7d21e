"""A read fence across processes: the events topic's end offsets as a flush token.

A session's flush token names what *that* process wrote. A service with several
processes (MLflow's server with several workers) must also show a write that another
process answered: each process waits for Kafka's acknowledgement before it answers a
write, and before a read takes the topic's end offsets (one ListOffsets request) and
waits until the projection has passed them. Every write any process had answered when
the read began is then visible to it.
"""

from __future__ import annotations

import threading

from kafka import KafkaConsumer, TopicPartition

from tracklog.contract import flush_tokens
from tracklog.contract.settings import KafkaSettings
from tracklog.contract.topics import log_name


class TopicFence:
    def __init__(self, kafka: KafkaSettings) -> None:
        self._topic = kafka.events_topic
        self._lock = threading.Lock()  # kafka-python's consumer is not thread-safe
        self._consumer = KafkaConsumer(
            **kafka.client_options(),
            client_id="tracklog-read-fence",
            group_id=None,
            enable_auto_commit=False,
        )
        self._partitions: list[TopicPartition] = []

    def token(self) -> str:
        """A flush token naming the last record of every partition now ("" when empty)."""
        with self._lock:
            if not self._partitions:
                found = self._consumer.partitions_for_topic(self._topic) or ()
                self._partitions = [TopicPartition(self._topic, p) for p in sorted(found)]
            ends = self._consumer.end_offsets(self._partitions)
            log = log_name(self._topic, self._consumer._client.cluster.topic_id(self._topic))
        return flush_tokens.encode(
            {(log, tp.partition): end - 1 for tp, end in ends.items() if end > 0}
        )

    def close(self) -> None:
        with self._lock:
            self._consumer.close()
