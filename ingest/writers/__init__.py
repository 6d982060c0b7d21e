"""The I/O of the worker's steps 3, 5 and 6 (ingest/steps/): drop resent events, apply
projected rows to ClickHouse and Postgres, each record's effect exactly once
(`event_ids`, and the tracking row in the same transaction); and `failures`, the one
place that says what kind of failure a store's exception is.

May import: `tracklog.contract`, `tracklog.v1`, `tracklog.registry`,
`ingest.projectors`, `ingest.batch`, `ingest.records`.
"""
