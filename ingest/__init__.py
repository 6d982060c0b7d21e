"""The ingest worker (`tracklog ingest`): consumes the events topic and projects every
event into the two read models, ClickHouse (metric points) and Postgres (everything
else), each event's effect exactly once, committing offsets only after both hold it.

The worker (`worker.py`) is a chain of steps (`steps/`, one module each, in the manner
of getsentry/arroyo), each handing its result to the next:

    decode (`decode/`, pure) -> check artifact locations (`locations.py`)
    -> project (`projectors/`, pure) -> drop resent (and prune old event ids)
    -> write ClickHouse -> write Postgres + dead letters (`writers/`, `dead_letters/`)
    -> archive (`archive/`, when configured) -> commit offsets

Errors by kind (`writers/failures.py`): a store that is unavailable pauses
consumption and the batch is retried; data a store refuses is dead-lettered record by
record; anything else crashes the worker, and the restart replays safely. Also here:
what moves down the chain (`records.py`, `batch.py`), the Kafka consumer and its
rebalance listener (`consumer.py`), the Prometheus metrics (`metrics.py`), `tracklog
dlq` (`dead_letters/`) and `tracklog replay` (`archive/rebuild*.py`).

Inside the package, folders import one another without cycles: `steps` imports the
folders it chains, `archive` and `dead_letters` import `writers`, `writers` imports
`projectors`, which imports `decode`; only `worker.py` imports `steps`.

May import: `tracklog.contract`, `tracklog.v1`, `tracklog.registry`; never
`tracklog.query`, `tracklog.deploy`, `tracklog.mlflow` or the SDK.
"""
