"""The embedded single-machine stack behind `tracklog up`: Tansu (the Kafka-protocol
broker), Postgres and chDB from PyPI wheels, and the data directory they share.

May import: `tracklog.contract`, `tracklog.ingest`, `tracklog.query`.
"""
