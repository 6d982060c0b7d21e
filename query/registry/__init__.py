"""The RegistryService: requests -> commands, the decider's state read from Postgres,
the decided events produced, and the outcome read back.

May import: `tracklog.contract`, `tracklog.v1`, `tracklog.registry` (the rules),
`query.stores`, `query.errors`, `query.paging`.
"""
