"""The read side of Tracklog: a gRPC QueryService over the Postgres and ClickHouse read models.

Entry points: `tracklog.query.server.create_server` (build, do not start) and
`tracklog.query.server.serve` (run until SIGTERM/SIGINT).

May import: `tracklog.contract`, `tracklog.v1` and `tracklog.registry` (the registry's
pure rules). Never the SDK or `tracklog.ingest`: the worker and the query service meet
only in the read models and the contract (checked by .ci/layers.py).
"""
