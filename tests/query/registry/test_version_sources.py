"""CreateModelVersion refuses a source outside the allowed artifact roots (issue 12, item 6),
unless it is runs:/ or models:/ (resolved by MLflow's client against validated runs)."""

from __future__ import annotations

import pytest

from tracklog.contract.settings import ArtifactRootSettings
from tracklog.query.errors import InvalidArgument
from tracklog.query.registry.requests import create_version
from tracklog.v1 import registry_pb2

ROOTS = ArtifactRootSettings(root="/data/artifacts", extra=("s3://ml/tracklog",))


def request(source: str) -> registry_pb2.CreateModelVersionRequest:
    return registry_pb2.CreateModelVersionRequest(name="model", source=source)


@pytest.mark.parametrize(
    "source",
    [
        "runs:/0123abcd/model",
        "models:/m-0123abcd",
        "/data/artifacts/1/0123abcd/artifacts/model",
        "file:///data/artifacts/1/0123abcd/artifacts/model",
        "s3://ml/tracklog/1/0123abcd/artifacts/model",
    ],
)
def test_sources_inside_the_roots_or_indirect_are_accepted(source: str) -> None:
    assert create_version(request(source), ROOTS).source == source


@pytest.mark.parametrize(
    "source",
    [
        "/home/alice/model",
        "/data/artifacts2/model",
        "/data/artifacts/../secrets/model",
        "s3://attacker/model",
        "https://example.com/model.pkl",
        "relative/model",
    ],
)
def test_sources_outside_the_roots_are_refused(source: str) -> None:
    with pytest.raises(InvalidArgument, match="source"):
        create_version(request(source), ROOTS)


def test_without_listed_roots_any_source_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACKLOG_ARTIFACT_ROOTS", raising=False)
    assert create_version(request("/anywhere/model")).source == "/anywhere/model"
    monkeypatch.setenv("TRACKLOG_ARTIFACT_ROOTS", "/data/artifacts")
    with pytest.raises(InvalidArgument):
        create_version(request("/anywhere/model"))
