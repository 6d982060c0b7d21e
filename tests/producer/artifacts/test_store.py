"""The artifact stores, one suite run against each backend: a local directory and S3 (moto)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tracklog.artifacts.schemes import open_store
from tracklog.artifacts.store import ArtifactStore, FileInfo
from tracklog.contract.locations import join_uri, normalize_root, safe_artifact_path


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return open_store(str(tmp_path / "store"))
    root = request.getfixturevalue("s3_artifact_root")
    return open_store(join_uri(root, "run", "artifacts"))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """local/ with a.txt, sub/b.bin and sub/deeper/c.json."""
    root = tmp_path / "local"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.bin").write_bytes(bytes(range(256)) * 50)
    (root / "sub" / "deeper" / "c.json").write_text('{"c": 1}')
    return root


def test_put_file_reports_size_and_sha256(store: ArtifactStore, tree: Path) -> None:
    data = (tree / "sub" / "b.bin").read_bytes()
    stored = store.put_file(tree / "sub" / "b.bin", "models/b.bin")
    assert (stored.path, stored.size) == ("models/b.bin", len(data))
    assert stored.digest == hashlib.sha256(data).hexdigest()


def test_put_dir_list_and_download_round_trip(
    store: ArtifactStore, tree: Path, tmp_path: Path
) -> None:
    stored = store.put_dir(tree, "data")
    assert sorted(s.path for s in stored) == [
        "data/a.txt",
        "data/sub/b.bin",
        "data/sub/deeper/c.json",
    ]
    assert store.list() == [FileInfo("data", True, None)]
    assert store.list("data") == [FileInfo("data/a.txt", False, 5), FileInfo("data/sub", True)]
    assert store.list("data/sub/deeper") == [FileInfo("data/sub/deeper/c.json", False, 8)]
    assert store.list("missing") == []

    file_copy = Path(store.download("data/sub/b.bin", tmp_path / "one"))
    assert file_copy == tmp_path / "one" / "data" / "sub" / "b.bin"
    assert file_copy.read_bytes() == (tree / "sub" / "b.bin").read_bytes()

    dir_copy = Path(store.download("data/sub", tmp_path / "two"))
    copied = sorted(p.relative_to(dir_copy).as_posix() for p in dir_copy.rglob("*") if p.is_file())
    assert copied == ["b.bin", "deeper/c.json"]
    for rel in copied:
        assert (dir_copy / rel).read_bytes() == (tree / "sub" / rel).read_bytes()

    with pytest.raises(FileNotFoundError):
        store.download("data/nothing", tmp_path / "three")


def test_put_file_replaces_a_path(store: ArtifactStore, tree: Path, tmp_path: Path) -> None:
    store.put_file(tree / "a.txt", "x.txt")
    store.put_file(tree / "sub" / "deeper" / "c.json", "x.txt")
    assert store.list() == [FileInfo("x.txt", False, 8)]
    assert Path(store.download("x.txt", tmp_path / "d")).read_text() == '{"c": 1}'


@pytest.mark.parametrize("bad", ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "C:/x"])
def test_unsafe_paths_are_rejected_before_writing(
    store: ArtifactStore, tree: Path, tmp_path: Path, bad: str
) -> None:
    with pytest.raises(ValueError):
        store.put_file(tree / "a.txt", bad)
    with pytest.raises(ValueError):
        store.put_dir(tree, bad)
    with pytest.raises(ValueError):
        store.download(bad, tmp_path / "d")
    assert store.list() == []
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [(None, ""), ("", ""), (".", ""), ("a/b/", "a/b"), ("a//b", "a/b"), ("./a/./b", "a/b")],
)
def test_safe_artifact_path_normalizes(raw: str | None, clean: str) -> None:
    assert safe_artifact_path(raw) == clean


@pytest.mark.parametrize("bad", ["..", "../a", "a/..", "/a", "a\\b", "s3://b/k", "a\x00b"])
def test_safe_artifact_path_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        safe_artifact_path(bad)


def test_root_path_is_required_for_files() -> None:
    with pytest.raises(ValueError):
        safe_artifact_path("", allow_root=False)


def test_roots_and_dispatch(tmp_path: Path) -> None:
    assert normalize_root(str(tmp_path)) == tmp_path.resolve().as_uri()
    assert normalize_root("s3://bucket/prefix/") == "s3://bucket/prefix"
    assert join_uri("s3://b/p", "e1", "", "r1/artifacts") == "s3://b/p/e1/r1/artifacts"
    local = open_store(tmp_path.as_uri())
    assert type(local).__name__ == "LocalArtifactStore"
    with pytest.raises(ValueError, match="scheme"):
        open_store("gs://bucket/x")
