"""`tracklog import mlflow`: an MLflow tracking store's history as Tracklog events.

The importer reads any store MLflow's own client reads (``./mlruns``, ``sqlite:///``,
``postgresql://``, ``http(s)://``) and is an ordinary producer: every experiment, run,
param, tag, metric point and dataset input becomes an event on the events topic, keyed
and sequenced like the SDK's, so the worker, the archive and every read model see
imported data as they see live data.

- `source`: reading the MLflow store through `MlflowClient` (experiments, runs, histories).
- `event_ids`: deterministic event ids (a second import adds nothing: the worker skips ids
  it applied).
- `run_events`: pure builders, MLflow entities -> envelopes.
- `writer`: the Kafka producer with acknowledgement counting and the wait for projection.
- `checkpoint`: what an earlier (interrupted) import already sent, to resume.
- `artifacts`: copying a run's files into Tracklog's artifact store.
- `registry`: registered models and versions, with their original numbers.
- `verify`: counts and sampled histories compared between the source and Tracklog.
- `importer`: the whole import, reporting progress to a `Progress`.

May import: what `tracklog.mlflow` may import (MLflow's client, the SDK, the contract).
"""
