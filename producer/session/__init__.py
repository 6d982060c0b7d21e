"""`Session`, the SDK's state holder (facade.py), and the parts it is made of, one job
each: delivery.py (the batcher, the sender thread and the spool: emit, flush, close),
experiments.py (the current experiment, created once), runs.py (starting, ending and
the active runs, their params and system metrics), and default.py (the process's default
session, behind the fluent functions and the clients). The artifact part is
`tracklog.artifacts.logger.ArtifactLogger`.

May import: `tracklog.contract` and the SDK's lower parts (`tracklog.sending`,
`tracklog.spool`, `tracklog.artifacts`, `tracklog.events`, `tracklog.run`,
`tracklog.entities`, `tracklog.inputs`, `tracklog.deployment`,
`tracklog.system_metrics`). Never `tracklog.client` nor `tracklog.fluent`: both use it.
"""

from tracklog.session.facade import Session

__all__ = ["Session"]
