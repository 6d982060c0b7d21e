"""The committed generated code is exactly what `python proto/generate.py` produces."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "proto" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_generated_code_is_fresh(tmp_path: Path) -> None:
    fresh = _load_generator().generate(tmp_path)
    assert fresh, "the generator produced nothing"
    committed = ROOT / "proto"
    stale = [
        str(path.relative_to(tmp_path))
        for path in fresh
        if (committed / path.relative_to(tmp_path)).read_bytes() != path.read_bytes()
    ]
    names = {p.relative_to(tmp_path) for p in fresh}
    extra = {p.relative_to(committed) for p in committed.glob("tracklog/v1/*_pb2*")} - names
    assert not stale, f"stale generated files, run `python proto/generate.py`: {stale}"
    assert not extra, f"generated files without a source .proto: {sorted(map(str, extra))}"


def test_envelope_round_trips() -> None:
    from tracklog.v1 import events_pb2

    envelope = events_pb2.Envelope(aggregate_id="r1", sequence=3)
    envelope.metrics_logged.keys.append("loss")
    decoded = events_pb2.Envelope.FromString(envelope.SerializeToString())
    assert decoded.WhichOneof("payload") == "metrics_logged"
    assert list(decoded.metrics_logged.keys) == ["loss"]
