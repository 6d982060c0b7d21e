"""The model registry's rules, as pure code: names, stages, aliases, `models:/` URIs,
search filters, and the decider that turns a command plus current state into events."""
