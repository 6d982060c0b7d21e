"""Metric histories read in bulk from an MLflow database store (sqlite, postgresql, ...).

MLflow's `get_metric_history` builds one ORM object per point (about 20,000 points/s);
when the source is a database store, the importer asks MLflow's own store for all of a
run's points in one Core query instead (its SQLAlchemy session and metrics table; per
key in the order `get_metric_history` returns them: timestamp, step, value), about six
times faster. Other stores go through the client.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from mlflow import MlflowClient

Point = tuple[int, int, float]  # (step, timestamp in ms, value)


def database_store(client: MlflowClient) -> Any | None:
    """MLflow's SqlAlchemyStore behind the client, or None for another kind of store."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = client._tracking_client.store
    return store if isinstance(store, SqlAlchemyStore) else None


def run_histories(store: Any, run_id: str) -> dict[str, list[Point]]:
    """Every metric point of the run, by key, NaN restored from MLflow's is_nan column."""
    from mlflow.store.tracking.dbmodels.models import SqlMetric
    from sqlalchemy import select

    table = SqlMetric.__table__  # a Core query: rows as tuples, no ORM objects
    query = (
        select(table.c.key, table.c.step, table.c.timestamp, table.c.value, table.c.is_nan)
        .where(table.c.run_uuid == run_id)
        .order_by(table.c.key, table.c.timestamp, table.c.step, table.c.value)
    )
    histories: dict[str, list[Point]] = defaultdict(list)
    with store.ManagedSessionMaker() as session:
        rows = session.connection().execute(query).fetchall()
    for key, step, timestamp, value, is_nan in rows:
        histories[key].append((int(step), int(timestamp), float("nan") if is_nan else float(value)))
    return dict(histories)
