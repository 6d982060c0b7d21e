"""One Tracklog connection per ``tracklog://`` URI in a process, shared by both stores.

MLflow builds its stores more than once (per URI and artifact root, and again in each
server worker); they share a `Backend`: one `Session` (so every write of the process
goes through one batcher, spool and producer, and every read waits on one token) and
one `TracklogClient` over one gRPC channel. It also remembers what this process knows
of a run, so a logging call does not ask the query service each time:

- the runs it created or read, with their info (logging to a deleted run is refused, as
  MLflow does; a deletion made by another process is seen when the run is next read);
- each run's params (params are write-once: a changed value is refused at the call).

At most `MAX_KNOWN_RUNS` runs are remembered; the oldest is forgotten first (and read
again if it is logged to).

Inside MLflow's server (several worker processes, each with its own backend) the
backend is fenced (`tracklog.read_fence`): `settle` after a write waits for Kafka's
acknowledgement, and reads wait for the topic's end offsets. A fenced worker also reads
a run again rather than trust what it remembers, which another worker may have changed.

Unfenced (a training process), a read waits only for this process's own writes; before it
answers "not found" it waits once for the topic's end offsets (`catch_up`), so a run
another process created just before (``mlflow run`` creates the run, then starts the entry
point that reads it) is found.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from mlflow.entities import RunInfo

from tracklog.client import TracklogClient
from tracklog.mlflow import uri
from tracklog.read_fence import TopicFence
from tracklog.session import Session

log = logging.getLogger("tracklog.mlflow")

MAX_KNOWN_RUNS = 10_000
SETTLE_SECONDS = 30.0
# set by `mlflow server` for its worker processes
MLFLOW_SERVER_MARKER = "_MLFLOW_SERVER_BOOT_ID"


@dataclass
class RunState:
    info: RunInfo
    params: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.info.lifecycle_stage == "active"


class Backend:
    def __init__(self, store_uri: str) -> None:
        address = uri.parse(store_uri)
        self.session = Session(address.kafka, query_addr=address.query_addr)
        self.client = TracklogClient(address.query_addr, session=self.session)
        self._lock = threading.Lock()
        self._runs: dict[str, RunState] = {}
        fenced = address.read_fence
        if fenced is None:
            fenced = MLFLOW_SERVER_MARKER in os.environ
        self.fence = TopicFence(address.kafka) if fenced else None
        if self.fence is not None:
            self.client.fence = self.fence.token
        self._kafka = address.kafka
        self._catch_up: TopicFence | None = None  # made on the first "not found"

    def settle(self) -> None:
        """Fenced: return once this process's writes are acknowledged by Kafka (a write
        still in the spool after SETTLE_SECONDS is logged; the spool sends it later)."""
        if self.fence is not None and not self.session.flush(SETTLE_SECONDS):
            log.warning("a write is not acknowledged after %ss; it stays spooled", SETTLE_SECONDS)

    def catch_up(self) -> bool:
        """Unfenced: wait until the worker has projected what the topic holds now (other
        processes' writes); True when there was something to wait for (read again)."""
        if self.fence is not None:
            return False  # every read already waits for the topic's end
        with self._lock:
            if self._catch_up is None:
                self._catch_up = TopicFence(self._kafka)
            fence = self._catch_up
        token = fence.token()
        if not token:
            return False
        self.client.wait_for(token)
        return True

    def known_run(self, run_id: str) -> RunState | None:
        if self.fence is not None:
            return None
        with self._lock:
            return self._runs.get(run_id)

    def remember_run(self, run_id: str, state: RunState) -> RunState:
        with self._lock:
            if run_id not in self._runs and len(self._runs) >= MAX_KNOWN_RUNS:
                del self._runs[next(iter(self._runs))]
            return self._runs.setdefault(run_id, state)

    def forget_run(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def close(self) -> None:
        self.client.close()
        self.session.close()
        for fence in (self.fence, self._catch_up):
            if fence is not None:
                fence.close()


_lock = threading.Lock()
_backends: dict[str, Backend] = {}


def backend_for(store_uri: str) -> Backend:
    """The process's backend for ``store_uri`` (made on first use)."""
    with _lock:
        found = _backends.get(store_uri)
        if found is None:
            found = _backends[store_uri] = Backend(store_uri)
        return found


def close_all() -> None:
    """Flush and close every backend (tests; the SDK also closes sessions at exit)."""
    with _lock:
        backends = list(_backends.values())
        _backends.clear()
    for backend in backends:
        backend.close()
