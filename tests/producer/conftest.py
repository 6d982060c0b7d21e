"""Fixtures of the SDK's tests: `sink` records what a `session` (with no broker and no
query service) sends; `s3_artifact_root` gives each test a fresh bucket of the session's
moto server (`s3_endpoint`, tests/conftest.py) as an s3:// root.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.producer.fakes import RecordingSink
from tracklog import Session


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def session(sink: RecordingSink) -> Iterator[Session]:
    s = Session(sink_factory=lambda: sink, linger_seconds=0.01, query_addr="")
    yield s
    s.close(5)


@pytest.fixture
def s3_artifact_root(s3_endpoint: str) -> str:
    """A new, empty bucket as an s3:// artifact root."""
    import boto3

    bucket = f"tracklog-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/root"
