"""Records Kafka refuses for good, kept out of the spool so they block nothing.

A record the broker (or the producer itself) refuses in a way no retry can change
(too large, invalid) would otherwise be re-sent forever and hold back every record
behind it, in this process and in every later one that adopts the spool. The shipper
moves such a record to ``<spool dir>/quarantine/`` (beside the processes'
subdirectories), one file per record, never deleted by Tracklog, and sends on.
``tracklog spool list`` shows them; ``tracklog spool resend`` sends them again once
the configuration is fixed (e.g. a larger ``max.message.bytes`` on the topic).

Records older than TRACKLOG_SPOOL_MAX_AGE_DAYS (by the event's ``occurred_at``) go there
too, unsent (`TooOldToSend`): ``tracklog spool resend`` sends them on purpose, knowing that
past the worker's dedup horizon a copy already applied stores its metric points twice.

A file is a JSON header line (format, target, reason, time, points, key and value
lengths) followed by the record's key and value bytes, exactly as spooled.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kafka import errors as kafka_errors

QUARANTINE_DIR = "quarantine"
SUFFIX = ".event"
RESENT_SUFFIX = ".resent"
FORMAT = 1

# Errors about the record itself: the same bytes fail the same way every time. Errors
# about the client or the cluster (authorization, fencing, a broker away) are not here:
# they hold for every record, which stay in the spool and are re-sent once they pass.
REFUSED_FOR_GOOD: tuple[type[Exception], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidRecordError,
    kafka_errors.CorruptRecordError,
    kafka_errors.InvalidTimestampError,
    kafka_errors.UnsupportedForMessageFormatError,
)


class TooOldToSend(Exception):
    """A spooled record older than TRACKLOG_SPOOL_MAX_AGE_DAYS: not sent, since the worker
    may have forgotten its id (a copy would store its metric points twice)."""

    def __init__(self, age_days: float, max_age_days: float) -> None:
        super().__init__(
            f"the event happened {age_days:.1f} days ago, past TRACKLOG_SPOOL_MAX_AGE_DAYS"
            f"={max_age_days:g}"
        )
        self.age_days = age_days


def refused_for_good(error: BaseException | None) -> bool:
    """The record that met ``error`` can never be written as it is."""
    return isinstance(error, REFUSED_FOR_GOOD)


@dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    path: Path
    target: str  # "<brokers> <topic>", as the spool directory it came from
    reason: str
    quarantined_at: float  # Unix seconds
    points: int
    key: bytes
    value: bytes

    @property
    def resent(self) -> bool:
        return self.path.suffix == RESENT_SUFFIX


class Quarantine:
    """Where one spool's refused records go; counts what this process put there."""

    def __init__(self, root: Path, target: str) -> None:
        self.directory = root / QUARANTINE_DIR
        self._target = target
        self._serial = itertools.count(1)
        self.events = self.points = 0

    def put(self, key: bytes, value: bytes, points: int, error: BaseException) -> Path:
        """Write the record to a new file (whole or not at all) and count it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{os.getpid()}-{next(self._serial):06d}{SUFFIX}"
        header = {
            "format": FORMAT,
            "target": self._target,
            "reason": f"{type(error).__name__}: {error}",
            "quarantined_at": time.time(),
            "points": points,
            "key_bytes": len(key),
            "value_bytes": len(value),
        }
        path = self.directory / name
        staging = self.directory / f".{name}.tmp"
        with staging.open("wb") as out:
            out.write(json.dumps(header).encode() + b"\n")
            out.write(key)
            out.write(value)
        staging.replace(path)
        self.events += 1
        self.points += points
        return path


def read(path: Path) -> QuarantinedRecord:
    """One quarantined record; ValueError when the file is not one."""
    with path.open("rb") as source:
        try:
            header = json.loads(source.readline())
            key = source.read(int(header["key_bytes"]))
            value = source.read(int(header["value_bytes"]))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path} is not a quarantined Tracklog event: {error}") from None
    if header.get("format") != FORMAT or len(value) != header["value_bytes"]:
        raise ValueError(f"{path} is not a quarantined Tracklog event (format or length)")
    return QuarantinedRecord(
        path,
        str(header["target"]),
        str(header["reason"]),
        float(header["quarantined_at"]),
        int(header["points"]),
        key,
        value,
    )


def listing(spool_root: Path, *, include_resent: bool = False) -> Iterator[QuarantinedRecord]:
    """The quarantined records under a spool directory, oldest first."""
    directory = spool_root / QUARANTINE_DIR
    if not directory.is_dir():
        return
    suffixes = {SUFFIX, RESENT_SUFFIX} if include_resent else {SUFFIX}
    for path in sorted(directory.iterdir()):
        if path.suffix in suffixes and not path.name.startswith("."):
            yield read(path)


def mark_resent(record: QuarantinedRecord) -> Path:
    """Rename a record's file once Kafka acknowledged it again (kept, not deleted)."""
    done = record.path.with_suffix(RESENT_SUFFIX)
    record.path.replace(done)
    return done
