"""Pure builders of event payloads (no clock, no I/O, no randomness): metric batches,
params, tags and artifacts; run and experiment lifecycle; MLflow 3's logged models.
The envelope around them is built by `tracklog.contract.envelopes`.

May import: `tracklog.contract` and `tracklog.v1` only.
"""
