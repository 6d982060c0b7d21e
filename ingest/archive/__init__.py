"""The event archive: every consumed record kept in Avro files on a local directory or
S3, read back in offset order by `tracklog replay` to rebuild both read models.

May import: `tracklog.contract`, `tracklog.v1`, the rest of `tracklog.ingest`.
"""
