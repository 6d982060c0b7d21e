"""TracklogClient's series methods against a real query server over chDB and Postgres."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from tests.query.conftest import channel, pg, schemas, server, stub  # noqa: F401 (fixtures)
from tests.query.rows import insert_experiment, insert_points, insert_run
from tracklog.client.errors import TracklogError
from tracklog.client.tracklog_client import TracklogClient
from tracklog.contract.settings import Settings

T0 = 1_700_000_000_000


class _NothingWritten:
    """A session that wrote nothing: reads need not wait for any projection."""

    def flush_token(self, timeout: float | None = None) -> str:
        return ""


@pytest.fixture
def client(server: tuple[Any, int]) -> Any:  # noqa: F811
    with TracklogClient(f"127.0.0.1:{server[1]}", session=_NothingWritten()) as client:  # type: ignore[arg-type]
        yield client


def test_client_series_compare_and_stream(
    settings: Settings,
    clickhouse_client: Any,
    pg: Any,  # noqa: F811
    client: TracklogClient,
) -> None:
    insert_experiment(pg, "e1", "exp", datetime(2024, 1, 1, tzinfo=UTC))
    insert_run(pg, "a", "e1", params={"lr": "0.1"}, metrics=[("loss", 0.0, T0 + 4999, 4999)])
    insert_run(pg, "b", "e1", params={"lr": "0.1"})
    points = [(s, T0 + s, float(np.sin(s / 50))) for s in range(5000)]
    insert_points(clickhouse_client, settings.clickhouse_database, "a", "loss", points)

    lttb, empty = client.get_metric_series(["a", "b"], ["loss"], max_points=100)
    assert (lttb.run_id, lttb.key, lttb.downsampled, lttb.total_points) == ("a", "loss", True, 5000)
    assert len(lttb.xs) <= 100 and lttb.steps[0] == 0 and lttb.steps[-1] == 4999
    assert isinstance(lttb.values, np.ndarray) and len(empty.xs) == 0
    (buckets,) = client.get_metric_series(["a"], ["loss"], max_points=10, mode="min_max_avg")
    assert buckets.bucketed and buckets.counts.sum() == 5000 and len(buckets.mins) == 10
    (ranged,) = client.get_metric_series(
        ["a"], ["loss"], x_axis="wall_time", min_step=10, max_step=19
    )
    assert ranged.xs.tolist() == [float(T0 + s) for s in range(10, 20)]
    with pytest.raises(ValueError, match="mode"):
        client.get_metric_series(["a"], ["loss"], mode="fancy")

    comparison = client.compare_runs(["a", "b"])
    assert comparison.agreeing_params == {"lr": "0.1"} and comparison.differing_params == {}
    a_loss, b_loss = comparison.metrics["loss"]
    assert b_loss is None and a_loss is not None and a_loss.last_step == 4999
    with pytest.raises(TracklogError) as info:
        client.compare_runs(["ghost"])
    assert info.value.code == "NOT_FOUND"

    streamed = list(client.iter_metric_history("a", "loss", chunk_size=700))
    assert [(m.step, m.timestamp, m.value) for m in streamed] == points
