"""GetServiceInfo names the deployment's root and the roots artifact locations must lie
under (issue 12, item 6); authentication is not turned on without roots."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tracklog.contract.locations import normalize_root
from tracklog.contract.settings import ArtifactRootSettings, AuthSettings, Settings
from tracklog.query.server import create_server
from tracklog.query.tracking_endpoints import service_info


def test_service_info_advertises_the_allowed_roots_as_uris(tmp_path: Path) -> None:
    roots = ArtifactRootSettings(root=str(tmp_path / "root"), extra=("s3://ml/p/",))
    info = service_info(str(tmp_path / "root"), roots)
    assert info.artifact_root == normalize_root(str(tmp_path / "root"))
    assert list(info.artifact_roots) == [info.artifact_root, "s3://ml/p"]


def test_service_info_advertises_no_roots_when_none_are_checked(tmp_path: Path) -> None:
    anywhere = ArtifactRootSettings(root=str(tmp_path), extra=("*",))
    assert list(service_info(str(tmp_path), anywhere).artifact_roots) == []
    assert list(service_info("", ArtifactRootSettings()).artifact_roots) == []


def test_service_info_reads_the_roots_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLOG_ARTIFACT_ROOTS", "s3://team/x")
    info = service_info(str(tmp_path))
    assert list(info.artifact_roots) == [normalize_root(str(tmp_path)), "s3://team/x"]


def test_authentication_needs_artifact_roots(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACKLOG_ARTIFACT_ROOT", raising=False)
    monkeypatch.delenv("TRACKLOG_ARTIFACT_ROOTS", raising=False)
    rootless = dataclasses.replace(settings, artifact_root="")
    with pytest.raises(ValueError, match="TRACKLOG_AUTH=on needs artifact roots"):
        create_server("127.0.0.1:0", rootless, auth=AuthSettings(enabled=True))
