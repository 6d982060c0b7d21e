"""An S3-compatible server for the artifact store tests: moto's server mode, in process.

`s3_endpoint` starts one ThreadedMotoServer on a free port for the session and
points the SDK at it (TRACKLOG_S3_ENDPOINT_URL plus dummy AWS_* credentials);
`s3_artifact_root` gives each test a fresh bucket as an s3:// root.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TRACKLOG_S3_ENDPOINT_URL", endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        try:
            yield endpoint
        finally:
            server.stop()


@pytest.fixture
def s3_artifact_root(s3_endpoint: str) -> str:
    """A new, empty bucket as an s3:// artifact root."""
    import boto3

    bucket = f"tracklog-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/root"
