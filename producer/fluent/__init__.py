"""MLflow's fluent functions (`tracklog.start_run`, `tracklog.log_metric`, ...), each
delegating to the default `Session` (`tracklog.session.default`): runs.py logs to the
active run, tracking.py holds inputs, tag deletes, experiment tags and the reads through
`get_client`, search.py holds `search_runs`.

May import: the rest of the SDK, `tracklog.contract`. The clients (`tracklog.client`) never
import it: they reach the default session through `tracklog.session.default`.
"""
