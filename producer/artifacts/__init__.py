"""The SDK's artifact files: where a run's files live (the `ArtifactStore` interface in
store.py, a local directory in local.py, S3 in s3.py, `open_store` choosing one by the
URI's scheme in schemes.py), the uploads and downloads behind `log_artifact`
(`ArtifactLogger`, logger.py, a Session's artifact part), and the serializers behind
`log_text`, `log_dict` and `log_figure` (content.py).

May import: `tracklog.contract` and the standard library (boto3 only in `s3`); logger.py
also queues ``ArtifactLogged`` events (`tracklog.events`, `tracklog.sending`) and asks
the query service for the artifact root (`tracklog.deployment`). Nothing of the worker,
the query service's code or `tracklog.deploy`.
"""
