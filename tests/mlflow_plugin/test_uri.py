"""``tracklog://`` store URIs and the server's command line (pure, no services)."""

from __future__ import annotations

import pytest

from tracklog.contract.settings import KafkaSettings, Settings
from tracklog.deploy import mlflow_server
from tracklog.deploy.cli.main import main
from tracklog.mlflow import uri


def test_the_uri_names_the_service_and_may_override_broker_and_topic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACKLOG_KAFKA_BOOTSTRAP", "env-kafka:9092")
    plain = uri.parse("tracklog://query:50051")
    assert plain.query_addr == "query:50051"
    assert plain.kafka.bootstrap_servers == "env-kafka:9092" and plain.read_fence is None
    given = uri.parse("tracklog://q:1?bootstrap=k1:9092,k2:9092&topic=t.events&read_fence=on")
    assert given.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert given.kafka.events_topic == "t.events" and given.read_fence is True
    assert uri.parse("tracklog://q:1?read_fence=off").read_fence is False


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("http://q:1", "not a tracklog:// URI"),
        ("tracklog://q:1/path", "host:port only"),
        ("tracklog://q:1?bootstrp=k:9092", "unknown tracklog:// URI option 'bootstrp'"),
        ("tracklog://q:1?topic=", "option 'topic' is empty"),
        ("tracklog://q:1?read_fence=yes", "read_fence is on or off"),
    ],
)
def test_a_bad_uri_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        uri.parse(text)


def test_the_servers_store_uri_round_trips() -> None:
    kafka = KafkaSettings(bootstrap_servers="k1:9092,k2:9092", events_topic="tracklog.events")
    settings = Settings(kafka=kafka, query_addr="query:50051")
    parsed = uri.parse(mlflow_server.store_uri(settings))
    assert parsed.query_addr == "query:50051"
    assert (parsed.kafka.bootstrap_servers, parsed.kafka.events_topic) == (
        "k1:9092,k2:9092",
        "tracklog.events",
    )


def test_tracklog_server_needs_an_artifact_root(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TRACKLOG_ARTIFACT_ROOT", raising=False)
    assert main(["server"]) == 2
    assert "--artifacts-destination" in capsys.readouterr().err
