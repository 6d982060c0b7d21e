"""Step 1 of the worker: Kafka bytes -> a valid `Envelope`, or `InvalidEvent` naming
why not. One module per family of payloads, each holding the rules its payloads must
satisfy; `authority` says which topic may carry which events. Pure.

May import: `tracklog.contract`, `tracklog.v1`, `tracklog.registry`.
"""
