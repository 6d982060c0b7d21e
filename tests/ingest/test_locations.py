"""A rebuild projects archived records with the live worker's location check."""

from __future__ import annotations

from pathlib import Path

from tests.ingest.steps.test_check_locations import located_run
from tracklog.contract.settings import ArtifactRootSettings
from tracklog.ingest.batch import project_batch
from tracklog.ingest.locations import project_checked
from tracklog.ingest.records import Position, Record


def test_a_rebuild_refuses_what_the_live_worker_refused(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    events = [located_run("kept", f"{root}/1/kept/artifacts"), located_run("forged", "/etc")]
    records = [
        Record(Position("t@1", 0, i), e.aggregate_id.encode(), e.SerializeToString())
        for i, e in enumerate(events)
    ]
    checked = ArtifactRootSettings(root=str(root), extra=())
    batch = project_checked(records, None, None, checked)
    assert [r.record.position.offset for r in batch.rejected] == [1]
    assert "outside the allowed artifact roots" in batch.rejected[0].reason
    anywhere = ArtifactRootSettings(root=str(root), extra=("*",))  # the explicit opt-out
    unchecked = project_checked(records, None, None, anywhere)
    assert unchecked == project_batch(records)
