"""Whether an artifact location lies under the allowed roots (issue 12, item 6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tracklog.contract.locations import check_under_roots, is_under, location_parts
from tracklog.contract.settings import ArtifactRootSettings


def test_local_locations_compare_by_whole_segments(tmp_path: Path) -> None:
    root = tmp_path / "data" / "root"
    assert is_under(str(root / "1" / "run" / "artifacts"), str(root))
    assert is_under((root / "1").as_uri(), root.as_uri())
    assert is_under(str(root), root.as_uri())  # the root itself, path or URI
    assert not is_under(str(tmp_path / "data" / "roots2" / "1"), str(root))
    assert not is_under(str(tmp_path / "data"), str(root))
    assert not is_under("/etc/passwd", str(root))


def test_traversal_and_symlinks_are_resolved_before_the_comparison(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    assert not is_under(f"{root}/1/../../outside", str(root))
    assert not is_under(f"{root.as_uri()}/../outside/x", root.as_uri())
    os.symlink(outside, root / "escape")
    assert not is_under(str(root / "escape" / "run"), str(root))
    assert is_under(str(root / "1" / ".." / "2"), str(root))


def test_s3_and_other_uris_compare_by_bucket_and_key_segments() -> None:
    root = "s3://ml-artifacts/tracklog"
    assert is_under("s3://ml-artifacts/tracklog/1/run/artifacts", root)
    assert is_under("s3://ml-artifacts/tracklog/", root)
    assert not is_under("s3://ml-artifacts/tracklog2/1", root)
    assert not is_under("s3://other-bucket/tracklog/1", root)
    assert not is_under("s3://ml-artifacts/tracklog/../secrets", root)
    assert not is_under("file:///ml-artifacts/tracklog/1", root)
    assert not is_under("gs://ml-artifacts/tracklog/1", root)
    with pytest.raises(ValueError, match=r"\.\."):
        location_parts("s3://ml-artifacts/tracklog/1/../../x")


def test_what_cannot_be_a_location_is_refused() -> None:
    for bad in ("relative/path", "", "file://otherhost/data", "/data/a\x00b", "C:\\data"):
        with pytest.raises(ValueError):
            location_parts(bad)


def test_check_under_roots_names_the_location_and_the_roots(tmp_path: Path) -> None:
    roots = (str(tmp_path / "a"), "s3://bucket/prefix")
    check_under_roots("artifact_uri", str(tmp_path / "a" / "x"), roots)
    check_under_roots("artifact_uri", "s3://bucket/prefix/x", roots)
    with pytest.raises(ValueError, match="artifact_uri 's3://bucket/elsewhere' is outside"):
        check_under_roots("artifact_uri", "s3://bucket/elsewhere", roots)


def test_artifact_root_settings_check_whenever_a_root_is_configured() -> None:
    # secure by default (issue 12, item 6): the deployment's root alone is checked
    root_only = ArtifactRootSettings.from_env({"TRACKLOG_ARTIFACT_ROOT": "/data/root"})
    assert root_only.checked and root_only.allowed() == ("/data/root",)
    nothing = ArtifactRootSettings.from_env({})
    assert not nothing.checked and not nothing.configured and nothing.allowed() == ()
    listed = ArtifactRootSettings.from_env(
        {"TRACKLOG_ARTIFACT_ROOT": "/data/root", "TRACKLOG_ARTIFACT_ROOTS": " s3://b/p , /x "}
    )
    assert listed.checked and listed.allowed() == ("/data/root", "s3://b/p", "/x")
    given = ArtifactRootSettings.from_env({"TRACKLOG_ARTIFACT_ROOTS": "/x"}, root="/stack")
    assert given.allowed() == ("/stack", "/x")
    anything = ArtifactRootSettings.from_env(
        {"TRACKLOG_ARTIFACT_ROOT": "/data/root", "TRACKLOG_ARTIFACT_ROOTS": "*"}
    )
    assert not anything.checked and anything.configured and anything.allowed() == ()


def test_locations_behind_mlflows_artifact_proxy_are_accepted() -> None:
    """`mlflow server --artifacts-destination` gives experiments `mlflow-artifacts:/<id>`:
    the proxy stores the files under its own destination, so no root applies."""
    check_under_roots("artifact_location", "mlflow-artifacts:/0", ("s3://bucket/root",))
    with pytest.raises(ValueError, match="outside the allowed artifact roots"):
        check_under_roots("artifact_location", "s3://other/0", ("s3://bucket/root",))
