"""How events leave the training process: the bounded in-memory batcher, the sender
thread that encodes batches into envelopes, and the sink (the Kafka producer).

May import: `tracklog.contract`, `tracklog.v1`, `tracklog.events`.
"""
