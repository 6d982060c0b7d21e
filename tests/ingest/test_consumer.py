"""The worker's Kafka consumer settings."""

from __future__ import annotations

from dataclasses import replace

from tracklog.contract.settings import Settings
from tracklog.ingest.consumer import create_consumer


def test_an_instance_id_makes_the_worker_a_static_group_member(settings: Settings) -> None:
    env = {"TRACKLOG_CONSUMER_INSTANCE_ID": "ingest-0"}
    assert Settings.from_env(env).consumer_instance_id == "ingest-0"
    dynamic = create_consumer(settings)
    static = create_consumer(replace(settings, consumer_instance_id="ingest-0"))
    try:
        assert dynamic.config["group_instance_id"] is None
        assert static.config["group_instance_id"] == "ingest-0"
    finally:
        dynamic.close()
        static.close()
