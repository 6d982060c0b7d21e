"""A plain progress bar on a terminal stream: done / total, rate, ETA. No dependency."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class ProgressBar:
    """`update(done, points)` redraws at most every `interval` seconds; `close()` ends the line."""

    def __init__(
        self,
        total: int,
        label: str = "records",
        stream: TextIO | None = None,
        interval: float = 0.2,
    ) -> None:
        self.total = max(0, total)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._line = ""

    def update(self, done: int, points: int = 0, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn_at < self.interval:
            return
        self._drawn_at = now
        self._line = self.render(done, points, now - self._started)
        self.stream.write("\r" + self._line)
        self.stream.flush()

    def render(self, done: int, points: int, elapsed: float) -> str:
        fraction = min(1.0, done / self.total) if self.total else 1.0
        filled = int(fraction * WIDTH)
        bar = "#" * filled + "." * (WIDTH - filled)
        rate = points / elapsed if elapsed > 0 else 0.0
        if 0 < done < self.total and elapsed > 0:
            eta = _duration(elapsed * (self.total - done) / done)
        else:
            eta = "-" if done < self.total else "0:00:00"
        return (
            f"[{bar}] {fraction:4.0%} {done:,}/{self.total:,} {self.label}"
            f"  {rate:,.0f} points/s  ETA {eta}"
        )

    def close(self, done: int, points: int = 0) -> None:
        self.update(done, points, force=True)
        self.stream.write("\n")
        self.stream.flush()
