"""What earlier imports of a source into a deployment already sent: the resume state.

One JSON file per (source, events topic, brokers) under the state directory. A run is
recorded once all its events were acknowledged by the broker, with a fingerprint of
what MLflow held (status, end time, stage, tags, params, latest metrics, artifacts) and
each metric's point count. A later import skips a run whose fingerprint is unchanged
and sends only the new points of a run that grew (a run still RUNNING last time); the
deterministic event ids make whatever is sent twice harmless.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.entities import Run

DEFAULT_STATE_DIR = Path("~/.cache/tracklog/imports")


@dataclass(slots=True)
class RunMark:
    fingerprint: str
    points: dict[str, int] = field(default_factory=dict)  # metric key -> points sent


def fingerprint(run: Run, artifacts: str = "") -> str:
    """A digest of what the run holds in MLflow (changes when anything of it changes)."""
    info, data = run.info, run.data
    document = [
        info.status,
        info.end_time,
        info.lifecycle_stage,
        info.run_name,
        sorted(data.tags.items()),
        sorted(data.params.items()),
        sorted((k, repr(v)) for k, v in data.metrics.items()),
        artifacts,
    ]
    return hashlib.sha256(json.dumps(document, default=str).encode()).hexdigest()[:32]


class Checkpoint:
    def __init__(self, path: Path | None, runs: dict[str, RunMark] | None = None) -> None:
        self.path = path
        self.runs: dict[str, RunMark] = runs or {}

    @classmethod
    def load(cls, state_dir: Path | None, source: str, destination: str) -> Checkpoint:
        """The checkpoint of this source and destination (empty when none or unreadable)."""
        if state_dir is None:
            return cls(None)
        key = hashlib.sha256(f"{source}\x00{destination}".encode()).hexdigest()[:24]
        path = state_dir.expanduser() / f"{key}.json"
        try:
            document = json.loads(path.read_text())
            runs = {
                run_id: RunMark(mark["fingerprint"], dict(mark.get("points", {})))
                for run_id, mark in document["runs"].items()
            }
        except (OSError, ValueError, KeyError, TypeError):
            runs = {}
        return cls(path, runs)

    def done(self, run_id: str, digest: str) -> bool:
        mark = self.runs.get(run_id)
        return mark is not None and mark.fingerprint == digest

    def sent_points(self, run_id: str, key: str) -> int:
        mark = self.runs.get(run_id)
        return mark.points.get(key, 0) if mark is not None else 0

    def record(self, run_id: str, mark: RunMark) -> None:
        self.runs[run_id] = mark

    def save(self) -> None:
        """Write atomically (a crash leaves the previous checkpoint)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "runs": {
                run_id: {"fingerprint": m.fingerprint, "points": m.points}
                for run_id, m in self.runs.items()
            }
        }
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document))
        os.replace(temporary, self.path)
