"""The model registry's rules, as pure code: names, stages, aliases, `models:/` URIs,
search filters, and the decider that turns a command plus current state into events.

May import: `tracklog.v1` and the standard library only (no I/O): the SDK, the worker's
projection and the registry service all apply these rules.
"""
