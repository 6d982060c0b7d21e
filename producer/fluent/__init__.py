"""MLflow's fluent functions (`tracklog.start_run`, `tracklog.log_metric`, ...), each
delegating to one lazily created default `Session`.

May import: the rest of the SDK, `tracklog.contract`.
"""
