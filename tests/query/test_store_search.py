"""The SearchRuns store (tracklog.query.stores.search): one statement per page, each run's
details with it, and never a prepared statement (whose generic plan ignores the values)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tracklog.contract.settings import Settings
from tracklog.query.filters.parser import parse_filter
from tracklog.query.stores import search as store_search
from tracklog.query.stores.postgres import open_pool
from tracklog.query.stores.records import RunSearch

from .rows import insert_experiment, insert_run

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_a_page_is_one_unprepared_statement_with_every_runs_details(
    settings: Settings, pg: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    insert_experiment(pg, "e1", "one", T0)
    for i in range(4):
        insert_run(
            pg,
            f"r{i}",
            "e1",
            start=T0 + timedelta(seconds=i),
            params={"lr": str(i % 2), "a": "x"},
            tags={"t": "v"} if i == 2 else None,
            metrics=[("m", 1.5, 30, 3)] if i == 2 else (),
        )
    search = RunSearch(("e1",), (), (), (), False, 1, filter=parse_filter("params.lr = '0'"))
    statements: list[object] = []
    execute = psycopg.Connection.execute

    def counted(self: psycopg.Connection[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(query)
        return execute(self, query, *args, **kwargs)

    with open_pool(settings.postgres_dsn, max_size=1) as pool:
        with pool.connection():
            pass  # the pool's own setup statements are done
        monkeypatch.setattr(psycopg.Connection, "execute", counted)
        for _ in range(12):  # more than psycopg's prepare threshold (5)
            statements.clear()
            runs, more = store_search.search_runs(pool, search)
            assert len(statements) == 1
        monkeypatch.undo()
        assert more and [r.info.run_id for r in runs] == ["r2"]
        (run,) = runs
        assert (run.param_keys, run.param_values) == (["a", "lr"], ["x", "0"])
        assert (run.tag_keys, run.tag_values) == (["t"], ["v"])
        assert (run.metric_keys, run.metric_values) == (["m"], [1.5])
        assert (run.metric_timestamps_ms, run.metric_steps, run.inputs) == ([30], [3], [])
        with pool.connection() as conn:
            prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
        assert prepared == (0,)
