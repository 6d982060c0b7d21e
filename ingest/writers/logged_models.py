"""Step 6 for logged models: apply their operations to Postgres in log order, inside
the batch's transaction (tracking_writer.apply calls `apply_one`).

A model is inserted once (a second creation of the same id changes nothing), its
creation tags and params with it; changes are UPDATEs and tag upserts or deletes, so
replaying the same events leaves the same rows. The status and the tags are
last-writer-wins by the events' order keys (logged_models.status_order, ordered_tags.py):
a late copy of an older finalize or tag change does not replace a newer one.
"""

from __future__ import annotations

from typing import Any

import psycopg

from tracklog.ingest.projectors.logged_models import (
    LoggedModelChange,
    LoggedModelOp,
    LoggedModelRow,
    ModelInputRow,
    ModelMetricRows,
    ModelOutputRow,
)
from tracklog.ingest.writers import ordered_tags

Connection = psycopg.Connection[tuple[Any, ...]]
_TOUCH = "UPDATE logged_models SET last_updated_time = greatest(last_updated_time, %s)"


def apply_one(conn: Connection, op: LoggedModelOp) -> None:
    if isinstance(op, LoggedModelRow):
        _insert(conn, op)
    elif isinstance(op, ModelMetricRows):
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO logged_model_metrics (model_id, key, value, timestamp_ms, step,"
                " dataset_name, dataset_digest, run_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [(op.model_id, *point, op.run_id) for point in op.points],
            )
    elif isinstance(op, ModelOutputRow):
        conn.execute(
            "INSERT INTO run_outputs (run_id, model_id, step) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (op.run_id, op.model_id, op.step),
        )
    elif isinstance(op, ModelInputRow):
        conn.execute(
            "INSERT INTO run_model_inputs (run_id, model_id) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            (op.run_id, op.model_id),
        )
    else:
        _change(conn, op)


def _insert(conn: Connection, op: LoggedModelRow) -> None:
    inserted = conn.execute(
        "INSERT INTO logged_models (model_id, experiment_id, name, source_run_id, model_type,"
        " artifact_location, creation_time, last_updated_time)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING model_id",
        (
            op.model_id,
            op.experiment_id,
            op.name,
            op.source_run_id,
            op.model_type,
            op.artifact_location,
            op.created,
            op.created,
        ),
    ).fetchone()
    if inserted is None:
        return  # created before: its tags may have changed since
    with conn.cursor() as cur:
        tags = [((op.model_id,), key, value, op.order) for key, value in op.tags]
        ordered_tags.set_tags(cur, "logged_model_tags", ("model_id",), tags)
        if op.params:
            cur.executemany(
                "INSERT INTO logged_model_params (model_id, key, value) VALUES (%s, %s, %s)"
                " ON CONFLICT (model_id, key) DO UPDATE SET value = EXCLUDED.value",
                [(op.model_id, key, value) for key, value in op.params],
            )


def _change(conn: Connection, op: LoggedModelChange) -> None:
    if op.status is not None:
        conn.execute(
            "UPDATE logged_models SET status = %s, status_message = %s, status_order = %s"
            " WHERE model_id = %s AND status_order <= %s",
            (op.status, op.status_message, op.order, op.model_id, op.order),
        )
    if op.tag is not None:
        _change_tag(conn, op, *op.tag)
    if op.params:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO logged_model_params (model_id, key, value)"
                " SELECT model_id, %s, %s FROM logged_models WHERE model_id = %s"
                " ON CONFLICT (model_id, key) DO NOTHING",
                [(key, value, op.model_id) for key, value in op.params],
            )
    if op.deleted:
        conn.execute(
            "UPDATE logged_models SET lifecycle_stage = 'deleted' WHERE model_id = %s",
            (op.model_id,),
        )
    if op.at is not None:
        conn.execute(_TOUCH + " WHERE model_id = %s", (op.at, op.model_id))


def _change_tag(conn: Connection, op: LoggedModelChange, key: str, value: str | None) -> None:
    with conn.cursor() as cur:
        if value is None:
            ordered_tags.delete_tags(
                cur, "logged_model_tags", ("model_id",), [((op.model_id,), key, op.order)]
            )
            return
        found = cur.execute("SELECT 1 FROM logged_models WHERE model_id = %s", (op.model_id,))
        if found.fetchone() is not None:  # a tag of a model not created is dropped
            tag = ((op.model_id,), key, value, op.order)
            ordered_tags.set_tags(cur, "logged_model_tags", ("model_id",), [tag])
