"""The SDK's artifact files: where a run's files live (local directory or S3), the
uploads and downloads behind `log_artifact`, and the serializers behind `log_text`,
`log_dict` and `log_figure`.

May import: `tracklog.contract` and the standard library (boto3 only in `s3`). Nothing of
the worker, the query service or the deployment.
"""
