"""Step 6 for artifacts: upsert run_artifacts rows inside the writer's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from tracklog.ingest.projectors.artifacts import ArtifactRow

_UPSERT = """
INSERT INTO run_artifacts (run_id, path, size, digest, logged_at)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (run_id, path) DO UPDATE
SET size = excluded.size, digest = excluded.digest, logged_at = excluded.logged_at
"""


def upsert(
    conn: psycopg.Connection[tuple[Any, ...]], rows: Mapping[tuple[str, str], ArtifactRow]
) -> None:
    """Write the batch's last row per (run_id, path); an earlier row of a path is replaced."""
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            _UPSERT,
            [(r.run_id, r.path, r.size, r.digest, r.logged_at) for _, r in sorted(rows.items())],
        )
