"""SDK -> Tansu -> ingest worker -> ClickHouse + Postgres -> gRPC, on the real components."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.pipeline import running_pipeline, wait_until
from tracklog import Session
from tracklog.contract.settings import Settings
from tracklog.v1 import events_pb2

pytestmark = pytest.mark.integration

RUNS, KEYS, STEPS = 10, 5, 10_000
BASE_TS = 1_700_000_000_000


def value(run: int, key: int, step: int) -> float:
    return run * 1000.0 + key + step / 8.0 - (step % 7) * 0.001


def test_round_trip_every_point_param_tag_status_and_nesting(
    settings: Settings, clickhouse_client: Any
) -> None:
    session = Session(settings.kafka)
    keys = [f"metric_{k}" for k in range(KEYS)]
    run_ids: list[str] = []
    experiment = session.set_experiment("round-trip")
    with session.start_run(run_name="parent", tags={"kind": "sweep"}) as parent:
        parent_id = parent.info.run_id
        for r in range(RUNS):
            with session.start_run(run_name=f"child-{r}", nested=True, tags={"r": str(r)}) as run:
                run_ids.append(run.info.run_id)
                session.log_params({"index": r, "lr": 0.001 * (r + 1)})
                for step in range(STEPS):
                    session.log_metrics(
                        {key: value(r, k, step) for k, key in enumerate(keys)},
                        step=step,
                        timestamp=BASE_TS + step,
                    )
    assert session.flush(timeout=120)
    session.close()

    with running_pipeline(settings, clickhouse_client) as pipeline:

        def complete() -> bool:
            run = pipeline.get_run(run_ids[-1])
            latest = {m.key: m.step for m in run.data.metrics}
            return (
                run.info.status == events_pb2.RUN_STATUS_FINISHED
                and all(latest.get(key) == STEPS - 1 for key in keys)
                and len(pipeline.history(run_ids[-1], keys[-1])) == STEPS
            )

        wait_until(complete, timeout=180, what="the last run to be projected")
        parent_run = pipeline.get_run(parent_id)
        assert parent_run.info.status == events_pb2.RUN_STATUS_FINISHED
        assert parent_run.info.parent_run_id == ""
        assert parent_run.info.experiment_id == experiment.experiment_id
        for r, run_id in enumerate(run_ids):
            run = pipeline.get_run(run_id)
            assert run.info.parent_run_id == parent_id
            assert run.info.run_name == f"child-{r}"
            assert run.info.status == events_pb2.RUN_STATUS_FINISHED
            assert {p.key: p.value for p in run.data.params} == {
                "index": str(r),
                "lr": str(0.001 * (r + 1)),
            }
            tags = {t.key: t.value for t in run.data.tags}
            assert tags["r"] == str(r)
            assert tags["mlflow.parentRunId"] == parent_id
            latest = {m.key: (m.step, m.timestamp_ms, m.value) for m in run.data.metrics}
            for k, key in enumerate(keys):
                last = STEPS - 1
                assert latest[key] == (last, BASE_TS + last, value(r, k, last))
                history = pipeline.history(run_id, key)
                expected = [(s, BASE_TS + s, value(r, k, s)) for s in range(STEPS)]
                assert history == expected


def test_run_whose_block_raises_ends_failed(settings: Settings, clickhouse_client: Any) -> None:
    session = Session(settings.kafka)
    session.set_experiment("failing")
    with pytest.raises(RuntimeError, match="boom"), session.start_run(run_name="bad") as run:
        session.log_metric("loss", 1.0)
        raise RuntimeError("boom")
    assert session.flush(timeout=30)
    session.close()
    with running_pipeline(settings, clickhouse_client) as pipeline:
        projected = wait_until(
            lambda: r if (r := pipeline.get_run(run.info.run_id)).info.end_time.seconds else None,
            what="the failed run",
        )
        assert projected.info.status == events_pb2.RUN_STATUS_FAILED
        assert (
            projected.info.end_time.ToMilliseconds() >= projected.info.start_time.ToMilliseconds()
        )
