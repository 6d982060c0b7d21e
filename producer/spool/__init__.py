"""The SDK's disk spool: every event goes to a write-ahead log on disk first, a shipper
thread sends it to Kafka in order, and what Kafka refuses for good is quarantined.

May import: `tracklog.contract`, `tracklog.sending` (the sink interface) and the
standard library.
"""
