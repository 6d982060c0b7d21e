"""What the shipper process says about a ring, said again in the process that wrote it.

In the shipper process, `NoticeBoard` is a logging handler for the ``tracklog`` loggers:
every WARNING or ERROR (the broker unreachable, the spool full, an event quarantined) is
appended, as one JSON line ``[level, logger name, message]``, to the ``.notices`` file of
every ring being read at that moment; a ring attached during an outage first gets the
outage's warning. In the training process, `NoticeReader` reads its ring's file from
where it stopped and logs each line again with the same logger name, level and message,
so a user sees "cannot send to Kafka ...; events stay in the spool" in their own stderr
as with in-process sending.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from tracklog.spool.shipper import OUTAGE_ATTRIBUTE

MAX_NOTICES_BYTES = 1 << 20  # a ring's file stops growing past this
RELAYED_ATTRIBUTE = "tracklog_relayed"  # a notice logged again: never posted again


class NoticeBoard(logging.Handler):
    """Appends the shipper process's warnings to the notices files of the rings it reads."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._files: dict[str, Path] = {}
        self._outage: str | None = None  # the outage's warning while it lasts

    def attach(self, ring_id: str, path: Path) -> None:
        outage = self._outage
        self._files[ring_id] = path
        if outage is not None:
            _append(path, outage)

    def detach(self, ring_id: str) -> None:
        self._files.pop(ring_id, None)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, RELAYED_ATTRIBUTE, False):
            return
        try:
            line = json.dumps([record.levelno, record.name, record.getMessage()]) + "\n"
        except Exception:
            self.handleError(record)
            return
        outage = getattr(record, OUTAGE_ATTRIBUTE, None)
        if outage is not None:
            self._outage = line if outage else None
        for path in list(self._files.values()):
            _append(path, line)


def _append(path: Path, line: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as out:
            if out.tell() < MAX_NOTICES_BYTES:
                out.write(line)
    except OSError:  # the ring is being removed
        pass


class NoticeReader:
    """Logs, in this process, what the shipper wrote into one ring's notices file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._lock = threading.Lock()

    def relay(self) -> int:
        """Log the notices written since the last call; returns how many."""
        with self._lock:
            try:
                with self.path.open("rb") as source:
                    source.seek(self._offset)
                    data = source.read()
            except OSError:
                return 0
            complete = data[: data.rfind(b"\n") + 1]
            self._offset += len(complete)
        relayed = 0
        for line in complete.splitlines():
            try:
                level, name, message = json.loads(line)
            except ValueError:
                continue
            logging.getLogger(str(name)).log(
                int(level), str(message), extra={RELAYED_ATTRIBUTE: True}
            )
            relayed += 1
        return relayed
