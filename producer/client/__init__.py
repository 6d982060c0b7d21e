"""The SDK's reads: `TracklogClient` (MLflow's MlflowClient names over the gRPC query
service), the registry client, what they return, and the read fence behind
read-your-writes.

May import: `tracklog.contract`, `tracklog.v1`, `tracklog.registry` (the registry's pure
rules) and the rest of the SDK. Never the worker, the query service's code or the
deployment: the client talks to them over gRPC only.
"""
