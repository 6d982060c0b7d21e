"""The event archive: every consumed record kept in Avro files on a local directory or
S3, read back in offset order by `tracklog replay` to rebuild both read models.

May import: `tracklog.contract`, `tracklog.v1`, `ingest.records`, `ingest.batch`,
`ingest.consumer`, `ingest.decode`, `ingest.writers`, `ingest.dead_letters` (not
`ingest.steps` nor `ingest.worker`: the rebuild's catch-up lives in ingest/worker.py).
"""
