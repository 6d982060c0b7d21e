"""Events written before issue 11's contract cleanup, read by the worker of today: they
project (the registry's actor included) and a replay from offset 0 changes nothing.

The events are tests/proto/samples/events_before_contract_cleanup.b64 (one of every
payload kind, as the code at commit 38c9552 serialized them). They go where that code
wrote them, registry events included: the events topic. Registry events have their own
topic since issue 12, and those on the events topic count only as the history the stores
had applied at the upgrade (ingest/decode/authority.py): the read model is upgraded as
having applied them (tests/ingest/registry_history.py), then the worker of today reads
them from offset 0, as `tracklog replay` does.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.e2e.pipeline import replay_from_offset_zero, running_pipeline, wait_until
from tests.e2e.snapshot import POSTGRES_TABLES, REGISTRY_TABLES, postgres_snapshot
from tests.ingest.registry_history import produce_to, upgrade_after_applying
from tracklog.contract.settings import Settings
from tracklog.v1 import events_pb2 as pb
from tracklog.v1 import query_pb2, tracking_pb2

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).resolve().parents[1] / "proto" / "samples"
TABLES = (*POSTGRES_TABLES, *REGISTRY_TABLES, "logged_models", "run_inputs")
# who asked for the sample's stage transition, alias set and alias deletion (the changes
# registry_audit records), kept in the payloads then; test_events_before_contract_cleanup
# checks the actor of every registry event
AUDITED_ACTORS = ["lu", "max", "ned"]


def stored() -> list[tuple[bytes, bytes]]:
    lines = (SAMPLE / "events_before_contract_cleanup.b64").read_text().splitlines()
    values = [base64.b64decode(line) for line in lines]
    return [(pb.Envelope.FromString(v).aggregate_id.encode(), v) for v in values]


def test_stored_events_project_and_replay_to_the_same_read_model(
    settings: Settings, clickhouse_client: Any
) -> None:
    events = stored()
    applied = produce_to(settings, settings.kafka.events_topic, events)
    upgrade_after_applying(settings, applied)
    with running_pipeline(settings, clickhouse_client) as pipeline:
        wait_until(pipeline.worker.drained, what="the worker to drain")
        experiment_id = pb.Envelope.FromString(events[0][1]).aggregate_id
        experiment = pipeline.stub.GetExperiment(
            query_pb2.GetExperimentRequest(experiment_id=experiment_id)
        ).experiment
        assert (experiment.name, experiment.lifecycle_stage) == (
            "exp2",
            tracking_pb2.LIFECYCLE_STAGE_ACTIVE,
        )
    with psycopg.connect(settings.postgres_dsn) as conn:
        actors = [row[0] for row in conn.execute("SELECT actor FROM registry_audit ORDER BY at")]
        models = conn.execute("SELECT lifecycle_stage FROM logged_models").fetchall()
        artifacts = conn.execute("SELECT path FROM run_artifacts").fetchall()
    assert actors == AUDITED_ACTORS
    assert models == [("deleted",)] and artifacts == [("model/weights.bin",)]
    before = postgres_snapshot(settings.postgres_dsn, TABLES)

    replay_from_offset_zero(settings, clickhouse_client)
    assert postgres_snapshot(settings.postgres_dsn, TABLES) == before
