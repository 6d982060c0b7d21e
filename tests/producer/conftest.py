"""S3 for the artifact store tests: `s3_artifact_root` gives each test a fresh bucket
of the session's moto server (`s3_endpoint`, tests/conftest.py) as an s3:// root.
"""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def s3_artifact_root(s3_endpoint: str) -> str:
    """A new, empty bucket as an s3:// artifact root."""
    import boto3

    bucket = f"tracklog-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/root"
