"""Older events produced after newer ones (an SDK spool adopted late, a dead letter sent
again) do not overwrite what the newer ones set, through the broker, the worker and the
query service; a replay from offset 0 then leaves the read model, order keys included,
identical (issue 12, item 4)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from kafka import KafkaProducer

from tests.e2e.pipeline import Pipeline, replay_from_offset_zero, running_pipeline, wait_until
from tests.e2e.snapshot import POSTGRES_TABLES, postgres_snapshot
from tracklog import Session, TracklogClient
from tracklog.contract import envelopes
from tracklog.contract.settings import Settings
from tracklog.v1 import events_pb2 as pb

pytestmark = pytest.mark.integration
TABLES = (*POSTGRES_TABLES, "lww_tombstones")
MINUTE_NS = 60 * 1_000_000_000
FINISHED = pb.RUN_STATUS_FINISHED


def produce_late(settings: Settings, pipeline: Pipeline, events: list[pb.Envelope]) -> None:
    """Produce `events` keyed by their aggregate, as a spool or `tracklog dlq replay` does,
    and wait until the worker applied them."""
    consumed = pipeline.worker.stats.events_consumed
    producer = KafkaProducer(**settings.kafka.client_options(), acks="all")
    try:
        for event in events:
            topic = settings.kafka.events_topic
            producer.send(topic, key=event.aggregate_id.encode(), value=event.SerializeToString())
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)

    def applied() -> bool:
        done = pipeline.worker.stats.events_consumed >= consumed + len(events)
        return done and pipeline.worker.drained()

    wait_until(applied, what="the late events applied")


def test_late_older_events_do_not_overwrite_newer_values(
    settings: Settings, clickhouse_client: Any
) -> None:
    with running_pipeline(settings, clickhouse_client) as pipeline:
        session = Session(settings.kafka, linger_seconds=0.005, query_addr=pipeline.address)
        client = TracklogClient(pipeline.address, session=session)
        experiment = client.create_experiment("late")
        run_id = client.create_run(experiment).info.run_id
        client.set_tag(run_id, "phase", "eval")
        client.set_tag(run_id, "gone", "x")
        client.delete_tag(run_id, "gone")
        client.update_run(run_id, name="final", status="FINISHED")
        assert session.flush(30)
        wait_until(lambda: pipeline.get_run(run_id).info.status == FINISHED, what="the run ended")

        # a crashed process's spool, adopted now: its events happened a minute ago
        spool = envelopes.ProducerSession(uuid.uuid4().hex)
        earlier = time.time_ns() - MINUTE_NS

        def old(payload: Any) -> pb.Envelope:
            return spool.envelope(
                event_id=uuid.uuid4().hex,
                aggregate_id=run_id,
                occurred_ns=earlier,
                payload=payload,
            )

        produce_late(
            settings,
            pipeline,
            [
                old(pb.TagsSet(tags=[pb.Tag(key="phase", value="train")])),
                old(pb.TagsSet(tags=[pb.Tag(key="gone", value="back")])),
                old(pb.RunRenamed(new_name="draft")),
                old(pb.RunEnded(status=pb.RUN_STATUS_RUNNING)),
            ],
        )
        run = pipeline.get_run(run_id)
        tags = {t.key: t.value for t in run.data.tags}
        assert tags["phase"] == "eval" and "gone" not in tags
        assert (run.info.run_name, run.info.status) == ("final", FINISHED)
        assert tags["mlflow.runName"] == "final"

        # a newer change from the same adopted session still applies
        later = spool.envelope(
            event_id=uuid.uuid4().hex,
            aggregate_id=run_id,
            occurred_ns=time.time_ns() + MINUTE_NS,
            payload=pb.TagsSet(tags=[pb.Tag(key="phase", value="test")]),
        )
        produce_late(settings, pipeline, [later])
        run = pipeline.get_run(run_id)
        assert {t.key: t.value for t in run.data.tags}["phase"] == "test"
        client.close()
        session.close(10)

    before = postgres_snapshot(settings.postgres_dsn, TABLES)
    replay_from_offset_zero(settings, clickhouse_client)
    assert postgres_snapshot(settings.postgres_dsn, TABLES) == before
