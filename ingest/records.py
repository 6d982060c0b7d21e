"""What the worker moves around: a Kafka record and its position in the log."""

from __future__ import annotations

from dataclasses import dataclass

from tracklog.contract.topics import LogName, Partition


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a record sits in the log: (log name, partition, offset); see `topics.log_name`."""

    log: LogName
    partition: int
    offset: int

    @property
    def log_partition(self) -> Partition:
        return (self.log, self.partition)


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed Kafka message, detached from the client library."""

    position: Position
    key: bytes | None
    value: bytes | None
