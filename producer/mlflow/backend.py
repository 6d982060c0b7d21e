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
backend is fenced (`tracklog.client.read_fence`): `settle` after a write waits for Kafka's
acknowledgement, and reads wait for the topic's end offsets. A fenced worker trusts what
it remembers of a run for `FENCED_TRUST_SECONDS` after reading it, then reads it again:
another worker may have deleted it (a write to a run another worker deleted less than
that long ago is accepted, as one racing the deletion would be).

Unfenced (a training process), a read waits only for this process's own writes; before it
answers "not found" it waits once for the topic's end offsets (`catch_up`), so a run
another process created just before (``mlflow run`` creates the run, then starts the entry
point that reads it) is found.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

from mlflow.entities import RunInfo

from tracklog.client.read_fence import TopicFence
from tracklog.client.tracklog_client import TracklogClient
from tracklog.mlflow import uri
from tracklog.mlflow.metric_checks import MetricChecks
from tracklog.session import Session

log = logging.getLogger("tracklog.mlflow")

MAX_KNOWN_RUNS = 10_000
SETTLE_SECONDS = 30.0
# a GetRun before every write of a fenced worker cost more than the rest of the write
FENCED_TRUST_SECONDS = 1.0
# set by `mlflow server` for its worker processes
MLFLOW_SERVER_MARKER = "_MLFLOW_SERVER_BOOT_ID"


@dataclass
class RunState:
    info: RunInfo
    params: dict[str, str] = field(default_factory=dict)
    read_at: float = field(default_factory=time.monotonic)  # when last read or created

    @property
    def active(self) -> bool:
        return self.info.lifecycle_stage == "active"


class Backend:
    def __init__(self, store_uri: str) -> None:
        address = uri.parse(store_uri)
        fenced = address.read_fence
        if fenced is None:
            fenced = MLFLOW_SERVER_MARKER in os.environ
        # Fenced, every write waits for its acknowledgement: the producer sends at once
        # rather than lingering for a fuller batch (a 5 ms linger made a write ~9 ms).
        kafka, query_addr = address.kafka, address.query_addr
        self.session = (
            Session(kafka, query_addr=query_addr, linger_ms=0)
            if fenced
            else Session(kafka, query_addr=query_addr)
        )
        self.client = TracklogClient(address.query_addr, session=self.session)
        self._lock = threading.Lock()
        self._runs: dict[str, RunState] = {}
        self.metric_checks = MetricChecks()
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
        with self._lock:
            known = self._runs.get(run_id)
        if known is None or self.fence is None:
            return known
        return known if time.monotonic() - known.read_at <= FENCED_TRUST_SECONDS else None

    def remember_run(self, run_id: str, state: RunState) -> RunState:
        with self._lock:
            if run_id not in self._runs and len(self._runs) >= MAX_KNOWN_RUNS:
                del self._runs[next(iter(self._runs))]
            return self._runs.setdefault(run_id, state)

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
