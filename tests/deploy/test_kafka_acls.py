"""The Kafka ACLs deploy/compose.yaml and deploy/k8s/ grant (issue 12, item 2): training
jobs write the events topic only, the registry service alone writes the registry topic, the
worker reads both and alone writes dead letters; and every Kafka client of Tracklog takes
the SASL / TLS settings (`KafkaSettings.client_options`)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from tracklog.contract.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EVENTS, REGISTRY, DLQ = "tracklog.events", "tracklog.events.registry", "tracklog.events.dlq"


def acl_script(kind: str) -> str:
    if kind == "compose":
        compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
        return str(compose["services"]["kafka-acls"]["command"][0]).replace("$$", "$")
    documents = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "tracklog.yaml").read_text())
    (job,) = [d for d in documents if d["kind"] == "Job"]
    return str(job["spec"]["template"]["spec"]["containers"][0]["args"][0])


def grants(script: str) -> dict[tuple[str, str], set[str]]:
    """(operation, resource) -> principals, from the script's `acl` lines and loops."""
    text = script.replace("\\\n", " ")
    found: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    loop_topics: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        loop = re.match(r"for topic in (.+); do", line)
        if loop:
            loop_topics = loop.group(1).split()
            continue
        if line == "done":
            loop_topics = []
            continue
        if not line.startswith("acl "):
            continue
        (principal,) = re.findall(r"--allow-principal User:(\S+)", line)
        operations = re.findall(r"--operation (\w+)", line)
        topics = [t.strip('"') for t in re.findall(r"--topic (\S+)", line)]
        resources = [
            f"topic:{t}"
            for topic in topics
            for t in (loop_topics if "$topic" in topic else [topic])
        ]
        resources += [f"group:{g}" for g in re.findall(r"--group (\S+)", line)]
        assert "--resource-pattern-type literal" in line, line
        for operation in operations:
            for resource in resources:
                found[(operation, resource)].add(principal)
    return dict(found)


@pytest.mark.parametrize("kind", ["compose", "k8s"])
def test_only_the_registry_service_writes_the_registry_topic(kind: str) -> None:
    granted = grants(acl_script(kind))
    assert granted[("Write", f"topic:{REGISTRY}")] == {"tracklog-registry"}
    assert granted[("Write", f"topic:{EVENTS}")] == {"tracklog-trainer"}
    assert granted[("Write", f"topic:{DLQ}")] == {"tracklog-ingest"}
    assert granted[("Read", f"topic:{EVENTS}")] == {"tracklog-ingest"}
    assert granted[("Read", f"topic:{REGISTRY}")] == {"tracklog-ingest"}
    assert granted[("Read", "group:tracklog-ingest")] == {"tracklog-ingest"}
    writers = {p for (op, _), principals in granted.items() if op == "Write" for p in principals}
    assert writers == {"tracklog-trainer", "tracklog-registry", "tracklog-ingest"}


def test_the_topic_names_in_the_acls_are_the_default_settings() -> None:
    kafka = Settings.from_env({}).kafka
    assert (kafka.events_topic, kafka.registry_topic, kafka.dead_letter_topic) == (
        EVENTS,
        REGISTRY,
        DLQ,
    )


def test_the_single_broker_compose_stack_asks_for_one_copy() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    env = compose["services"]["ingest"]["environment"]
    assert env["TRACKLOG_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["TRACKLOG_TOPIC_MIN_INSYNC_REPLICAS"] == "1"


def test_every_kafka_client_takes_the_security_settings() -> None:
    """Producers, consumers and admin clients of every package pass client_options()
    (bootstrap, security protocol, SASL, TLS)."""
    made = re.compile(r"(KafkaProducer|KafkaConsumer|KafkaAdminClient)\(")
    clients = 0
    for folder in ("producer", "ingest", "query", "deploy", "proto"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            for match in made.finditer(text):
                call = text[match.end() : match.end() + 200]
                clients += 1
                # passed in the call, or built from it earlier in the module (**options)
                assert "client_options()" in call or (
                    "**" in call and "client_options()" in text
                ), f"{path.relative_to(ROOT)}: {match.group(0)} without client_options()"
    assert clients >= 9
    options = Settings.from_env(
        {
            "TRACKLOG_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "TRACKLOG_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "TRACKLOG_KAFKA_SASL_USERNAME": "tracklog-registry",
            "TRACKLOG_KAFKA_SASL_PASSWORD": "secret",
            "TRACKLOG_KAFKA_SSL_CAFILE": "/etc/ca.pem",
        }
    ).kafka.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["ssl_cafile"]) == (
        "tracklog-registry",
        "/etc/ca.pem",
    )
