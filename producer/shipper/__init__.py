"""The shipper process: encoding, spooling and sending out of the training process.

A Session in shipper mode hands its calls over through a memory-mapped ring in the
spool directory (`ring`, `handover`); one shipper process per spool directory
(`process`, started by `launch`) reads every ring in slices (`slices`, `core`) into the
disk spool (`tracklog.spool`), which sends to Kafka. docs/spool.md explains the scheme.

May import: `tracklog.contract`, `tracklog.v1`, `tracklog.events`, `tracklog.sending`,
`tracklog.spool`.
"""
