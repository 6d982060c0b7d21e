"""Who may call the query service, and what each caller may read or change.

Modelled on MLflow's auth app: users (some of them admins), bearer tokens, and a
permission per experiment and per registered model (NO_PERMISSIONS < READ < EDIT <
MANAGE), the deployment's default permission where a user holds no grant.

- `permissions`: the levels, the authenticated caller of the current call (a
  contextvar) and the SQL condition a search adds to return only what it may read.
- `tokens`: making, hashing (SHA-256, the only form stored) and checking tokens.
- `accounts`: users, tokens and grants in Postgres (the `tracklog users / tokens /
  permissions` commands and the creator's MANAGE on a new registered model).
- `rules`: per RPC, the permission it needs on which resource.
- `interceptor`: the gRPC server interceptor: bearer token -> caller, rule -> allowed or
  PERMISSION_DENIED naming what is missing; health checking and reflection stay open.
- `transport`: TLS server credentials, and the refusal to serve tokens in clear text
  off loopback.

May import: `tracklog.contract`, `tracklog.v1`, `query.errors`, `query.stores.postgres`.
"""
