"""Registry changes arriving late (issue 12, item 4): an older stage or alias change never
replaces a newer one, and a stage or alias change meets the registry's rules again in the
projection, so one the rules now refuse is recorded as refused, not applied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.ingest.events import postgres_snapshot
from tests.ingest.writers.ordered_events import Log, stamped
from tracklog.contract.settings import Settings
from tracklog.ingest.writers.postgres import PostgresWriter
from tracklog.v1 import events_pb2 as pb

pytestmark = pytest.mark.integration

MODEL = "m" * 32
READY = pb.MODEL_VERSION_STATUS_READY
STAGING, PRODUCTION = pb.MODEL_VERSION_STAGE_STAGING, pb.MODEL_VERSION_STAGE_PRODUCTION
REGISTRY_TABLES = (
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
    "registry_audit",
    "registry_command_results",
    "lww_tombstones",
)


@pytest.fixture
def log(settings: Settings) -> Iterator[Log]:
    writer = PostgresWriter(settings.postgres_dsn)
    writer.migrate()
    yield Log(writer)
    writer.close()


def event(payload: Any, at: int, sequence: int = 1, session: str = "aaaa") -> pb.Envelope:
    return stamped(MODEL, payload, at=at, session=session, sequence=sequence)


def model_with_versions(log: Log, versions: int = 2) -> None:
    created = [event(pb.RegisteredModelCreated(name="reg"), at=0)]
    for number in range(1, versions + 1):
        payload = pb.ModelVersionCreated(source=f"s3://b/{number}", status=READY)
        created.append(event(payload, at=0, sequence=1 + number))
    log.apply(*created)


def rows(dsn: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return [tuple(r) for r in conn.execute(query).fetchall()]


def stages(dsn: str) -> dict[int, str]:
    found = rows(dsn, "SELECT version, current_stage FROM model_versions")
    return {int(v): str(s) for v, s in found}


def aliases(dsn: str) -> dict[str, int]:
    found = rows(dsn, "SELECT alias, version FROM registered_model_aliases")
    return {str(a): int(v) for a, v in found}


def result(dsn: str, e: pb.Envelope) -> tuple[str, str]:
    found = rows(
        dsn, f"SELECT code, message FROM registry_command_results WHERE event_id = '{e.event_id}'"
    )
    assert len(found) == 1
    return str(found[0][0]), str(found[0][1])


def transition(version: int, stage: Any, at: int, archive: bool = False) -> pb.Envelope:
    payload = pb.ModelVersionStageTransitioned(
        version=version, stage=stage, archive_existing_versions=archive
    )
    return event(payload, at=at, sequence=10 + at)


def test_an_old_stage_change_applied_late_does_not_override_a_newer_stage(
    log: Log, settings: Settings
) -> None:
    dsn = settings.postgres_dsn
    model_with_versions(log)
    staging = transition(1, STAGING, at=2)
    log.apply(transition(1, PRODUCTION, at=3))
    log.apply(staging)  # made before the Production transition, applied after it
    assert stages(dsn)[1] == "Production"
    code, message = result(dsn, staging)
    assert code == "FAILED_PRECONDITION" and "later event" in message
    audit = rows(dsn, "SELECT to_value FROM registry_audit WHERE kind = 'STAGE'")
    assert audit == [("Production",)]  # the refused change is not in the audit
    # a newer one still applies
    log.apply(transition(1, STAGING, at=4))
    assert stages(dsn)[1] == "Staging"


def test_a_late_archiving_transition_archives_only_what_it_precedes(
    log: Log, settings: Settings
) -> None:
    dsn = settings.postgres_dsn
    model_with_versions(log)
    log.apply(transition(1, PRODUCTION, at=5))
    log.apply(transition(2, PRODUCTION, at=4, archive=True))  # older than version 1's
    assert stages(dsn) == {1: "Production", 2: "Production"}
    log.apply(transition(2, PRODUCTION, at=6, archive=True))
    assert stages(dsn) == {1: "Archived", 2: "Production"}


def test_the_rules_are_checked_again_when_a_stage_change_is_applied(
    log: Log, settings: Settings
) -> None:
    dsn = settings.postgres_dsn
    log.apply(
        event(pb.RegisteredModelCreated(name="reg"), at=0),
        event(
            pb.ModelVersionCreated(source="s", status=pb.MODEL_VERSION_STATUS_PENDING_REGISTRATION),
            at=0,
            sequence=2,
        ),
    )
    refused = transition(1, STAGING, at=1)
    log.apply(refused)  # decided while READY elsewhere; the projection sees it PENDING
    assert stages(dsn)[1] == "None"
    code, message = result(dsn, refused)
    assert code == "FAILED_PRECONDITION" and "READY" in message


def test_a_late_alias_set_the_rules_now_refuse_is_refused(log: Log, settings: Settings) -> None:
    dsn = settings.postgres_dsn
    model_with_versions(log)
    to_v2 = event(pb.RegisteredModelAliasSet(alias="champion", version=2), at=2, sequence=5)
    log.apply(event(pb.ModelVersionDeleted(version=2), at=3, sequence=6))
    log.apply(to_v2)  # points at a version deleted since
    assert aliases(dsn) == {}
    assert result(dsn, to_v2)[0] == "NOT_FOUND"


def test_a_late_older_alias_change_does_not_move_or_revive_the_alias(
    log: Log, settings: Settings
) -> None:
    dsn = settings.postgres_dsn
    model_with_versions(log)
    old_set = event(pb.RegisteredModelAliasSet(alias="champion", version=2), at=2, sequence=5)
    log.apply(event(pb.RegisteredModelAliasSet(alias="champion", version=1), at=3, sequence=6))
    log.apply(old_set)
    assert aliases(dsn) == {"champion": 1}
    assert result(dsn, old_set)[0] == "FAILED_PRECONDITION"
    # deleted later: an older set arriving after the delete does not bring it back
    log.apply(event(pb.RegisteredModelAliasDeleted(alias="champion"), at=4, sequence=7))
    older = event(pb.RegisteredModelAliasSet(alias="champion", version=2), at=3, sequence=4)
    log.apply(older)
    assert aliases(dsn) == {}
    assert result(dsn, older)[0] == "FAILED_PRECONDITION"
    newer = event(pb.RegisteredModelAliasSet(alias="champion", version=2), at=5, sequence=8)
    log.apply(newer)
    assert aliases(dsn) == {"champion": 2} and result(dsn, newer)[0] == "OK"


def test_version_tags_and_descriptions_keep_the_latest_change(log: Log, settings: Settings) -> None:
    dsn = settings.postgres_dsn
    model_with_versions(log, versions=1)

    def tag(value: str, at: int) -> pb.Envelope:
        return event(pb.ModelVersionTagSet(version=1, tag=pb.Tag(key="k", value=value)), at, at)

    def described(text: str, at: int) -> pb.Envelope:
        return event(pb.ModelVersionDescriptionUpdated(version=1, description=text), at, 20 + at)

    log.apply(tag("new", at=4), described("new", at=4))
    log.apply(tag("old", at=3), described("old", at=3))
    log.apply(event(pb.ModelVersionTagDeleted(version=1, key="k"), at=2, sequence=2))
    assert rows(dsn, "SELECT value FROM model_version_tags") == [("new",)]
    assert rows(dsn, "SELECT description FROM model_versions") == [("new",)]


def test_a_second_application_leaves_the_registry_identical(settings: Settings, log: Log) -> None:
    dsn = settings.postgres_dsn
    model_with_versions(log)
    changes = [
        transition(1, PRODUCTION, at=3),
        transition(1, STAGING, at=2),
        event(pb.RegisteredModelAliasSet(alias="champion", version=1), at=3, sequence=6),
        event(pb.RegisteredModelAliasSet(alias="champion", version=2), at=2, sequence=5),
        event(pb.RegisteredModelTagSet(tag=pb.Tag(key="k", value="v")), at=4, sequence=7),
        event(pb.RegisteredModelTagDeleted(key="k"), at=5, sequence=8),
    ]
    log.apply(*changes)
    first = postgres_snapshot(dsn, orders=True, tables=REGISTRY_TABLES)
    Log(log.writer, topic="copy").apply(*changes)  # the same events again, elsewhere in a log
    assert postgres_snapshot(dsn, orders=True, tables=REGISTRY_TABLES) == first
    assert stages(dsn)[1] == "Production" and aliases(dsn) == {"champion": 1}
