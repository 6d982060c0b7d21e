"""Records the worker cannot apply: sent to the dead-letter topic with the reason,
listed and replayed by `tracklog dlq`, and the isolation of a record a store rejects.

May import: `tracklog.contract`, `tracklog.v1`, `ingest.records`, `ingest.batch`,
`ingest.consumer`, `ingest.writers` (not `ingest.steps` nor `ingest.worker`).
"""
