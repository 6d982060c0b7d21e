"""The read side of Tracklog: a gRPC QueryService over the Postgres and ClickHouse read models.

Entry points: `tracklog.query.server.create_server` (build, do not start) and
`tracklog.query.server.serve` (run until SIGTERM/SIGINT).
"""
