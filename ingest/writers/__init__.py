"""Step 3 of the worker: apply projected rows to ClickHouse and Postgres, each record's
effect exactly once (`event_ids`, and the tracking row in the same transaction).

May import: `tracklog.contract`, `tracklog.v1`, `tracklog.registry`,
`ingest.projectors`, `ingest.records`.
"""
