"""Step 2 of the worker: an `Envelope` -> the rows it adds to each read model. Pure
functions (no I/O, no clock), one per family of events and store.

May import: `tracklog.contract`, `tracklog.v1`, `tracklog.registry`, `ingest.decode`.
"""
