"""The SDK's artifact layer without a broker: layout, events, validation, fluent calls."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import tracklog
from tests.producer.fakes import RecordingSink
from tracklog import Session
from tracklog.contract.locations import normalize_root
from tracklog.session import default
from tracklog.v1 import events_pb2 as pb


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def session(sink: RecordingSink, tmp_path: Path) -> Iterator[Session]:
    s = Session(
        sink_factory=lambda: sink, linger_seconds=0.01, artifact_root=str(tmp_path / "root")
    )
    yield s
    s.close(5)


def payloads(sink: RecordingSink, kind: str) -> list[tuple[str, pb.Envelope]]:
    return [(key, env) for key, env in sink.messages if env.WhichOneof("payload") == kind]


def test_layout_default_and_per_experiment(
    session: Session, sink: RecordingSink, tmp_path: Path
) -> None:
    root = normalize_root(str(tmp_path / "root"))
    default = session.set_experiment("plain")
    with session.start_run() as run:
        assert session.artifacts.get_artifact_uri() == (
            f"{root}/{default.experiment_id}/{run.run_id}/artifacts"
        )
    custom = session.set_experiment("custom", artifact_location=str(tmp_path / "custom"))
    with session.start_run() as placed:
        session.artifacts.log_text("x", "x.txt")
    with session.start_run(experiment_id="unknown0") as stranger:
        pass
    assert session.flush(5)
    created = {
        env.aggregate_id: env.experiment_created for _, env in payloads(sink, "experiment_created")
    }
    assert created[default.experiment_id].artifact_location == f"{root}/{default.experiment_id}"
    # a plain path stays a path, made absolute (as MLflow's stores keep it)
    assert created[custom.experiment_id].artifact_location == str(tmp_path / "custom")
    started = {key: env.run_started.artifact_uri for key, env in payloads(sink, "run_started")}
    assert started[placed.run_id] == f"{tmp_path / 'custom'}/{placed.run_id}/artifacts"
    assert started[stranger.run_id] == f"{root}/unknown0/{stranger.run_id}/artifacts"
    assert (tmp_path / "custom" / placed.run_id / "artifacts" / "x.txt").read_text() == "x"


def test_each_file_is_one_artifact_logged_event(
    session: Session, sink: RecordingSink, tmp_path: Path
) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "one.txt").write_text("1")
    (tmp_path / "d" / "e" / "two.txt").write_text("22")
    with session.start_run() as run:
        session.artifacts.log_artifacts(tmp_path / "d", "dir")
        session.artifacts.log_text("hello", "t.txt")
    assert session.flush(5)
    logged = [(key, env.artifact_logged) for key, env in payloads(sink, "artifact_logged")]
    assert {key for key, _ in logged} == {run.run_id}
    assert [(a.path, a.size, a.digest) for _, a in logged] == [
        ("dir/e/two.txt", 2, hashlib.sha256(b"22").hexdigest()),
        ("dir/one.txt", 1, hashlib.sha256(b"1").hexdigest()),
        ("t.txt", 5, hashlib.sha256(b"hello").hexdigest()),
    ]


@pytest.mark.parametrize("bad", ["../escape", "a/../../escape", "/tmp/escape", "C:/escape"])
def test_unsafe_artifact_paths_raise_before_anything_is_written(
    session: Session, sink: RecordingSink, tmp_path: Path, bad: str
) -> None:
    source = tmp_path / "f.txt"
    source.write_text("f")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "g.txt").write_text("g")
    with session.start_run():
        arts = session.artifacts
        for call in (
            lambda: arts.log_artifact(source, bad),
            lambda: arts.log_artifacts(tmp_path / "d", bad),
            lambda: arts.log_text("t", f"{bad}.txt"),
            lambda: arts.log_dict({"a": 1}, f"{bad}.json"),
            lambda: arts.get_artifact_uri(bad),
            lambda: arts.list_artifacts(bad),
            lambda: arts.download_artifacts(bad, str(tmp_path / "dl")),
        ):
            with pytest.raises(ValueError):
                call()
    assert session.flush(5)
    assert payloads(sink, "artifact_logged") == []
    assert not (tmp_path / "root").exists()
    assert not (tmp_path / "escape").exists() and not (tmp_path / "escape.txt").exists()


def test_missing_inputs_and_unknown_runs(session: Session, tmp_path: Path) -> None:
    with session.start_run():
        with pytest.raises(FileNotFoundError):
            session.artifacts.log_artifact(tmp_path / "nope.txt")
        with pytest.raises(ValueError, match="not a directory"):
            session.artifacts.log_artifacts(tmp_path / "nope")
        with pytest.raises(TypeError, match="matplotlib Figure"):
            session.artifacts.log_figure(object(), "f.png")
    with pytest.raises(ValueError, match="not started in this session"):
        session.artifacts.list_artifacts(run_id="f" * 32)


@pytest.fixture
def fluent_sink(tmp_path: Path) -> Iterator[RecordingSink]:
    sink = RecordingSink()
    tracklog.configure(
        sink_factory=lambda: sink, linger_seconds=0.01, artifact_root=str(tmp_path / "fluent")
    )
    yield sink
    with default._lock:
        session, default._default = default._default, None
    if session is not None:
        session.close(5)


def test_fluent_artifact_functions(fluent_sink: RecordingSink, tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("a")
    figure = Figure(figsize=(1, 1))
    figure.add_subplot().plot([0, 1])
    with tracklog.start_run():
        tracklog.log_artifact(tmp_path / "in" / "a.txt", "single")
        tracklog.log_artifacts(tmp_path / "in", "many")
        tracklog.log_text("text", "t.txt")
        tracklog.log_dict({"k": [1, 2]}, "d.json")
        tracklog.log_figure(figure, "fig.svg")
        base = Path(tracklog.get_artifact_uri().removeprefix("file://"))
        assert tracklog.get_artifact_uri("t.txt").endswith("/artifacts/t.txt")
    assert tracklog.flush(5)
    assert (base / "d.json").read_text() == '{\n  "k": [\n    1,\n    2\n  ]\n}'
    assert (base / "fig.svg").read_text().lstrip().startswith("<?xml")
    paths = sorted(env.artifact_logged.path for _, env in payloads(fluent_sink, "artifact_logged"))
    assert paths == ["d.json", "fig.svg", "many/a.txt", "single/a.txt", "t.txt"]


def test_a_location_outside_the_deployment_s_roots_is_refused_before_anything_is_sent(
    session: Session, sink: RecordingSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = normalize_root(str(tmp_path / "allowed"))
    monkeypatch.setattr(session.deployment, "allowed_roots", lambda: (allowed, "s3://ml/p"))
    with pytest.raises(ValueError, match="outside the allowed artifact roots") as refused:
        session.set_experiment("forged", artifact_location=str(tmp_path / "elsewhere"))
    assert allowed in str(refused.value) and "s3://ml/p" in str(refused.value)
    with pytest.raises(ValueError, match="outside"):
        session.set_experiment("bucket", artifact_location="s3://ml/other")
    inside = session.set_experiment("inside", artifact_location=str(tmp_path / "allowed" / "x"))
    assert session.flush(5)
    created = [env.aggregate_id for _, env in payloads(sink, "experiment_created")]
    assert created == [inside.experiment_id]  # the refused ones sent nothing


def test_an_existing_experiment_keeps_its_recorded_location_whatever_the_roots(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session.deployment, "allowed_roots", lambda: ("s3://ml/p",))
    old = str(tmp_path / "before-roots")
    assert session.artifacts.experiment_location("e1", old, recorded=True) == old
