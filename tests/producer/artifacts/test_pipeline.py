"""Artifacts end to end on both stores: SDK -> store + ArtifactLogged -> run_artifacts.

Each test logs through a real Session (files to the store, events to the broker),
reads back through list/download, and checks the projection in Postgres through
the running pipeline (worker + gRPC service).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import matplotlib
import psycopg
import pytest
import yaml

from tests.e2e.pipeline import running_pipeline, wait_until
from tracklog import FileInfo, Session
from tracklog.client.artifacts import ArtifactsMixin
from tracklog.contract.locations import experiment_root, join_uri, normalize_root
from tracklog.contract.settings import Settings
from tracklog.v1 import query_pb2_grpc

matplotlib.use("Agg")

pytestmark = pytest.mark.integration


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_artifacts(dsn: str, run_id: str) -> dict[str, tuple[int, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT path, size, digest FROM run_artifacts WHERE run_id = %s", (run_id,)
        ).fetchall()
    return {str(p): (int(s), str(d)) for p, s, d in rows}


def local_tree(root: Path) -> Path:
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "top.txt").write_text("top")
    (root / "nested" / "mid.csv").write_text("a,b\n1,2\n")
    (root / "nested" / "deeper" / "leaf.bin").write_bytes(bytes(range(256)) * 10)
    return root


class Client(ArtifactsMixin):
    """The artifact methods as TracklogClient has them, over the pipeline's stub."""

    def __init__(self, stub: query_pb2_grpc.QueryServiceStub, session: Session) -> None:
        self._query = stub
        self._session = session


@pytest.fixture(params=["local", "s3"])
def artifact_root(request: pytest.FixtureRequest, settings: Settings) -> str:
    if request.param == "local":
        return settings.artifact_root
    return str(request.getfixturevalue("s3_artifact_root"))


def test_artifacts_round_trip_and_projection(
    settings: Settings, clickhouse_client: Any, artifact_root: str, tmp_path: Path
) -> None:
    from matplotlib.figure import Figure

    session = Session(settings.kafka, artifact_root=artifact_root)
    experiment = session.set_experiment("artifacts")
    tree = local_tree(tmp_path / "tree")
    figure = Figure(figsize=(2, 2))
    figure.add_subplot().plot([0, 1, 2], [2, 0, 1])
    with session.start_run() as run:
        arts = session.artifacts
        uri = arts.get_artifact_uri()
        assert uri == join_uri(
            normalize_root(artifact_root), experiment.experiment_id, run.run_id, "artifacts"
        )
        assert arts.get_artifact_uri("model/x.pkl") == f"{uri}/model/x.pkl"
        arts.log_artifact(tree / "top.txt")
        arts.log_artifact(tree / "top.txt", "copies")
        arts.log_artifacts(tree / "nested", "data")
        arts.log_text("first", "notes/readme.md")
        arts.log_text("hello artifacts", "notes/readme.md")  # replaces the first
        arts.log_dict({"lr": 0.1, "layers": [1, 2]}, "config.json")
        arts.log_dict({"lr": 0.1, "layers": [1, 2]}, "config.yaml")
        arts.log_figure(figure, "plots/curve.png")

        config_size = len(json.dumps({"lr": 0.1, "layers": [1, 2]}, indent=2))
        assert [(f.path, f.is_dir) for f in arts.list_artifacts()] == [
            ("config.json", False),
            ("config.yaml", False),
            ("copies", True),
            ("data", True),
            ("notes", True),
            ("plots", True),
            ("top.txt", False),
        ]
        assert arts.list_artifacts()[0] == FileInfo("config.json", False, config_size)
        assert arts.list_artifacts("copies") == [FileInfo("copies/top.txt", False, 3)]
        assert arts.list_artifacts("data") == [
            FileInfo("data/deeper", True),
            FileInfo("data/mid.csv", False, 8),
        ]

        downloads = tmp_path / "downloads"
        readme = Path(arts.download_artifacts("notes/readme.md", str(downloads)))
        assert readme.read_text() == "hello artifacts"
        data = Path(arts.download_artifacts("data", str(downloads)))
        for rel in ("mid.csv", "deeper/leaf.bin"):
            assert (data / rel).read_bytes() == (tree / "nested" / rel).read_bytes()
        config = Path(arts.download_artifacts("config.yaml", str(downloads)))
        assert yaml.safe_load(config.read_text()) == {"lr": 0.1, "layers": [1, 2]}
        png = Path(arts.download_artifacts("plots/curve.png", str(downloads)))
        assert png.read_bytes().startswith(b"\x89PNG")
        everything = Path(arts.download_artifacts(dst_path=str(tmp_path / "all")))
        local = {
            p.relative_to(everything).as_posix(): sha256(p)
            for p in everything.rglob("*")
            if p.is_file()
        }
    custom_location = join_uri(artifact_root, "elsewhere", "custom")
    custom = session.set_experiment("artifacts-custom", artifact_location=custom_location)
    with session.start_run() as placed:
        session.artifacts.log_text("placed", "where.txt")
        placed_uri = session.artifacts.get_artifact_uri()
    assert placed_uri == f"{experiment_root(custom_location)}/{placed.run_id}/artifacts"
    assert session.artifacts.list_artifacts(run_id=placed.run_id) == [
        FileInfo("where.txt", False, 6)
    ]
    assert session.flush(timeout=60)

    with running_pipeline(settings, clickhouse_client) as pipeline:
        wait_until(
            lambda: stored_artifacts(settings.postgres_dsn, run.run_id).keys() == local.keys(),
            what="every artifact projected",
        )
        assert pipeline.get_run(run.run_id).info.artifact_uri == uri
        wait_until(lambda: stored_artifacts(settings.postgres_dsn, placed.run_id), what="placed")
        assert pipeline.get_run(placed.run_id).info.artifact_uri == placed_uri
        with psycopg.connect(settings.postgres_dsn) as conn:
            row = conn.execute(
                "SELECT artifact_location FROM experiments WHERE experiment_id = %s",
                (custom.experiment_id,),
            ).fetchone()
        assert row == (experiment_root(custom_location),)
        projected = stored_artifacts(settings.postgres_dsn, run.run_id)
        for path, digest in local.items():
            assert projected[path] == ((everything / path).stat().st_size, digest)
        assert projected["data/deeper/leaf.bin"] == (2560, sha256(tree / "nested/deeper/leaf.bin"))

        # A client in a process that did not start the run reads artifact_uri via GetRun.
        other = Session(settings.kafka, artifact_root=str(tmp_path / "elsewhere"))
        client = Client(pipeline.stub, other)
        assert client.list_artifacts(run.run_id, "notes") == [
            FileInfo("notes/readme.md", False, 15)
        ]
        got = Path(client.download_artifacts(run.run_id, "data/mid.csv", str(tmp_path / "c")))
        assert got.read_text() == "a,b\n1,2\n"
        client.log_text(run.run_id, "late note", "notes/late.txt")
        assert other.flush(timeout=60)
        wait_until(
            lambda: "notes/late.txt" in stored_artifacts(settings.postgres_dsn, run.run_id),
            what="the client's artifact projected",
        )
        other.close()
    session.close()
