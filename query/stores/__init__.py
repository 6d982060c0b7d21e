"""Reads of the read models: Postgres (experiments, runs, search, logged models) and
ClickHouse (metric history and series), plus the wait for the projection's progress.
Parameterized SQL only.

May import: `tracklog.contract`, `tracklog.v1`, `query.filters`, `query.errors`.
"""
