"""Reading the dead-letter topic (`<events topic>.dlq`), for `tracklog dlq list` and replay.

Every partition is read with manual assignment (no consumer group: nothing is
committed), from the beginning up to the high-water mark found at start, so a
reading ends even while the worker keeps adding dead letters. Each record is a
`DeadLetter`: the original key and bytes plus the headers `DeadLetters.send`
wrote (reason, detail, source topic/partition/offset).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from tracklog.contract.settings import KafkaSettings
from tracklog.ingest.consumer import log_namer


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of the dead-letter topic and where its original came from."""

    partition: int  # of the dead-letter topic
    offset: int
    timestamp_ms: int  # when it was dead-lettered
    reason: str
    detail: str
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    key: bytes | None
    value: bytes
    truncated_from: int | None = None  # the original's size when it was cut to fit

    @property
    def size(self) -> int:
        return len(self.value)

    @property
    def source(self) -> tuple[str, int | None, int | None]:
        return (self.source_topic, self.source_partition, self.source_offset)

    def matches(self, reason: str | None) -> bool:
        """True when `reason` is None or a case-insensitive substring of the reason."""
        return reason is None or reason.lower() in self.reason.lower()

    def as_json(self) -> dict[str, object]:
        return {
            "partition": self.partition,
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "reason": self.reason,
            "detail": self.detail,
            "source_topic": self.source_topic,
            "source_partition": self.source_partition,
            "source_offset": self.source_offset,
            "key": None if self.key is None else self.key.decode("utf-8", "backslashreplace"),
            "size": self.size,
            "truncated_from": self.truncated_from,
        }


@dataclass(frozen=True, slots=True)
class DeadLetterLog:
    """What one reading found: the dead-letter topic's log name and its records in order."""

    topic: str
    log: str  # topics.log_name: the topic plus its incarnation's id
    letters: tuple[DeadLetter, ...]


def dead_letter_of(
    partition: int,
    offset: int,
    timestamp_ms: int,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | None]],
) -> DeadLetter:
    """A dead-letter record -> DeadLetter (missing or malformed headers become empty)."""
    h: Mapping[str, bytes] = {name: raw or b"" for name, raw in headers}

    def text(name: str) -> str:
        return h.get(name, b"").decode("utf-8", "replace")

    return DeadLetter(
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        reason=text("reason"),
        detail=text("detail"),
        source_topic=text("source_topic"),
        source_partition=_int(text("source_partition")),
        source_offset=_int(text("source_offset")),
        key=key,
        value=value or b"",
        truncated_from=_int(text("truncated_from")),
    )


def read_dead_letters(kafka: KafkaSettings, timeout: float = 30.0) -> DeadLetterLog:
    """Every dead letter up to the high-water marks at start (empty if the topic is missing)."""
    topic = kafka.dead_letter_topic
    consumer = KafkaConsumer(
        **kafka.client_options(),
        client_id="tracklog-dlq",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    try:
        partitions = _partitions(consumer, topic, timeout)
        if not partitions:
            return DeadLetterLog(topic, topic, ())
        log = log_namer(consumer)(topic)
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_end(*tps)
        ends = {tp: consumer.position(tp) for tp in tps}
        consumer.seek_to_beginning(*tps)
        letters = _read_until(consumer, ends, time.monotonic() + timeout)
        return DeadLetterLog(topic, log, tuple(sorted(letters, key=_order)))
    finally:
        consumer.close()


def _partitions(consumer: Any, topic: str, timeout: float) -> list[int]:
    """The topic's partitions; [] when the broker does not know the topic."""
    deadline = time.monotonic() + min(timeout, 5.0)
    while True:
        found = consumer.partitions_for_topic(topic)
        if found:
            return sorted(found)
        if time.monotonic() > deadline:
            return []
        time.sleep(0.1)


def _read_until(consumer: Any, ends: dict[Any, int], deadline: float) -> list[DeadLetter]:
    """Read each partition up to its end: the larger of the listed end offset and the first
    high-water mark a fetch reports (Tansu's listed end offsets can lag behind)."""
    letters: list[DeadLetter] = []
    confirmed: set[Any] = set()
    remaining = set(ends)
    while remaining:
        if time.monotonic() > deadline:
            raise TimeoutError(f"reading the dead-letter topic did not reach {ends}")
        for messages in consumer.poll(timeout_ms=200).values():
            letters.extend(
                dead_letter_of(m.partition, m.offset, m.timestamp, m.key, m.value, m.headers)
                for m in messages
            )
        for tp in remaining - confirmed:
            highwater = consumer.highwater(tp)
            if highwater is not None:
                ends[tp] = max(ends[tp], highwater)
                confirmed.add(tp)
        remaining = {
            tp for tp in remaining if tp not in confirmed or consumer.position(tp) < ends[tp]
        }
        for tp in list(consumer.assignment()):  # stop fetching partitions already read
            if tp not in remaining:
                consumer.pause(tp)
    return [x for x in letters if x.offset < _end(ends, x.partition)]


def _end(ends: dict[Any, int], partition: int) -> int:
    return next(end for tp, end in ends.items() if tp.partition == partition)


def _order(letter: DeadLetter) -> tuple[int, int]:
    return (letter.partition, letter.offset)


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
