"""Charts and comparisons: GetMetricSeries (bucket math and the grouped ClickHouse
queries), CompareRuns and the streamed full history.

May import: `tracklog.contract`, `tracklog.v1`, `query.stores`, `query.errors`.
"""
