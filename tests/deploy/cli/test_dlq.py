"""`tracklog dlq list` and `tracklog dlq replay` against a running pipeline, in-process."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.pipeline import running_pipeline, wait_until
from tests.ingest.events import metrics_logged, produce, run_started
from tracklog.contract.settings import Settings
from tracklog.deploy.cli.main import main
from tracklog.ingest.dead_letters.reader import DeadLetter, read_dead_letters

pytestmark = pytest.mark.integration

JUNK = (b"junk-key", b"\x08\xff\xff not protobuf")


def _letters(settings: Settings, count: int) -> list[DeadLetter]:
    def probe() -> list[DeadLetter] | None:
        letters = list(read_dead_letters(settings.kafka).letters)
        return letters if len(letters) >= count else None

    return wait_until(probe, what=f"{count} dead letters")


def test_list_shows_reasons_and_sources_and_replay_sends_each_dead_letter_once(
    settings: Settings,
    clickhouse_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TRACKLOG_KAFKA_BOOTSTRAP", settings.kafka.bootstrap_servers)
    monkeypatch.setenv("TRACKLOG_EVENTS_TOPIC", settings.kafka.events_topic)
    monkeypatch.setenv("TRACKLOG_POSTGRES_DSN", settings.postgres_dsn)
    ragged = metrics_logged("run0", [("loss", 0, 1, 1.0)])
    ragged.metrics_logged.steps.append(2)
    with running_pipeline(settings, clickhouse_client):
        produce(settings, [JUNK, ragged, run_started("run0", "e1", "ok")])
        letters = _letters(settings, 2)
        junk = next(x for x in letters if x.key == JUNK[0])
        capsys.readouterr()

        assert main(["dlq", "list"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split()[:5] == ["DLQ", "POS", "WHEN", "(UTC)", "REASON"]
        assert len(lines) == 5 and lines[-1].startswith("2 of 2 dead letters")
        junk_line = next(line for line in lines if "junk-key" in line)
        assert "undecodable envelope" in junk_line
        assert f"{settings.kafka.events_topic}/{junk.source_partition}/" in junk_line
        assert any("columns differ in length" in line for line in lines)

        assert main(["dlq", "list", "--json", "--reason", "UNDECODABLE"]) == 0
        [listed] = json.loads(capsys.readouterr().out)
        assert listed["source_topic"] == settings.kafka.events_topic
        assert (listed["source_partition"], listed["source_offset"]) == junk.source[1:]
        assert (listed["key"], listed["size"]) == ("junk-key", len(JUNK[1]))
        assert main(["dlq", "list", "--limit", "1"]) == 0
        assert capsys.readouterr().out.splitlines()[-1].startswith("1 of 2")

        assert main(["dlq", "replay", "--reason", "undecodable", "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert f"would replay {junk.partition}:{junk.offset}" in out
        assert "would replay: 1," in out

        assert main(["dlq", "replay", "--offset", f"{junk.partition}:{junk.offset}"]) == 0
        assert "replayed: 1, already replayed: 0" in capsys.readouterr().out
        again = [x for x in _letters(settings, 3) if x not in letters]
        assert [(x.key, x.value) for x in again] == [JUNK]
        assert again[0].reason == junk.reason  # still bad, for the same reason
        assert again[0].source[1:] != junk.source[1:]  # the copy's position

        assert main(["dlq", "replay"]) == 0  # the ragged one; not the junk nor its copy
        out = capsys.readouterr().out
        assert "replayed: 1, already replayed: 1, rejected copies skipped: 1" in out
        _letters(settings, 4)
        assert main(["dlq", "replay", "--reason", "undecodable", "--retry-replays"]) == 0
        assert "replayed: 1, already replayed: 1" in capsys.readouterr().out
        final = _letters(settings, 5)  # the junk's second copy is rejected too
        assert main(["dlq", "replay"]) == 0
        out = capsys.readouterr().out
        assert "replayed: 0, already replayed: 3, rejected copies skipped: 2" in out
    assert len(final) == 5
    assert sorted(x.reason.split(":")[0] for x in final) == [
        "metrics_logged columns differ in length",
        "metrics_logged columns differ in length",
        "undecodable envelope",
        "undecodable envelope",
        "undecodable envelope",
    ]
