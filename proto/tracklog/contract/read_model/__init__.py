"""The read models' schema: ClickHouse's `metric_points` and the Postgres tables and
migrations. The worker creates and writes them; the query service and the dashboards read
them; one definition serves all three.

May import: `tracklog.contract` and the database drivers.
"""
