"""CreateModelVersion with a `version`: only the next number; repeated from the same
source and run, the existing version; refused otherwise (an import keeping MLflow's
numbers relies on it)."""

from __future__ import annotations

import pytest

from tracklog import RegistryClient
from tracklog.registry import commands as c
from tracklog.registry.decider import decide, existing_version
from tracklog.registry.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from tracklog.v1 import events_pb2 as pb

MODEL = c.ModelState(
    "m1",
    "fraud",
    versions={1: c.VersionState(1, "None", "READY", "s3://v1", "run1")},
    last_version=2,  # version 2 was deleted
)


def test_only_the_next_number_is_allowed() -> None:
    event = decide(c.CreateVersion("fraud", "s3://v3", version=3), MODEL)
    assert isinstance(event, pb.ModelVersionCreated) and event.source == "s3://v3"
    with pytest.raises(FailedPrecondition, match="the next number is 3"):
        decide(c.CreateVersion("fraud", "s3://v2", version=2), MODEL)  # deleted: a gap
    with pytest.raises(FailedPrecondition, match="the next number is 3"):
        decide(c.CreateVersion("fraud", "s3://v5", version=5), MODEL)
    with pytest.raises(AlreadyExists, match=r"version 1 .* already exists"):
        decide(c.CreateVersion("fraud", "s3://other", version=1), MODEL)
    with pytest.raises(InvalidArgument, match="versions start at 1"):
        decide(c.CreateVersion("fraud", "s3://v0", version=0), MODEL)


def test_a_repeated_numbered_create_is_the_existing_version() -> None:
    assert existing_version(c.CreateVersion("fraud", "s3://v1", "run1", version=1), MODEL) == 1
    assert existing_version(c.CreateVersion("fraud", "s3://v1", "run2", version=1), MODEL) is None
    assert existing_version(c.CreateVersion("fraud", "s3://v1", "run1"), MODEL) is None


@pytest.mark.integration
def test_numbered_versions_through_the_service(client: RegistryClient) -> None:
    client.create_registered_model("numbered")
    assert client.create_model_version("numbered", "s3://a", version=1).version == 1
    again = client.create_model_version("numbered", "s3://a", version=1)
    assert again.version == 1  # nothing written
    assert [v.version for v in client.search_model_versions("name = 'numbered'")] == [1]
    gap = client.create_model_version("numbered", "s3://gap", version=2)
    client.delete_model_version("numbered", gap.version)
    with pytest.raises(FailedPrecondition, match="the next number is 3"):
        client.create_model_version("numbered", "s3://b", version=2)
    with pytest.raises(FailedPrecondition, match="the next number is 3"):
        client.create_model_version("numbered", "s3://b", version=4)
    assert client.create_model_version("numbered", "s3://b", version=3).version == 3
    assert client.create_model_version("numbered", "s3://c").version == 4
