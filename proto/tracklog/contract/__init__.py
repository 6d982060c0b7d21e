"""The contract: what the SDK, the worker, the query service and the deployment agree on,
beside the protos that define the events (`tracklog.v1`).

- `envelopes`: the one envelope builder (every event on the topic is built here).
- `ids`: identifiers (experiment ids derived from names, run and event ids).
- `validation`: MLflow's rules for names and values (the SDK checks before sending,
  the worker checks again after decoding).
- `topics`: topic names, log names and positions; explicit topic creation.
- `flush_tokens`: the format of read-your-writes tokens.
- `locations`: where artifacts may live (paths, roots, S3 URIs).
- `lifecycle_stages`: MLflow's lifecycle stage text ("active", "deleted") and the
  contract's `LifecycleStage` enum.
- `settings`: configuration, read from environment variables by every process.
- `read_model`: the read models' schema (ClickHouse and Postgres) that the worker
  writes and the query service and dashboards read.

May import: `tracklog.v1` and the standard library (plus the Kafka, ClickHouse and
Postgres drivers in the modules that talk to them). Nothing else of Tracklog: every other
part imports this one.
"""
