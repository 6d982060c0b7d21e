"""Lifecycle stages: MLflow's text <-> the contract's enum."""

from __future__ import annotations

import pytest

from tracklog.contract import lifecycle_stages
from tracklog.v1 import tracking_pb2


def test_lifecycle_stages_convert_both_ways_and_refuse_the_rest() -> None:
    for text in (lifecycle_stages.ACTIVE, lifecycle_stages.DELETED):
        assert lifecycle_stages.from_proto(lifecycle_stages.to_proto(text)) == text
    assert lifecycle_stages.to_proto("deleted") == tracking_pb2.LIFECYCLE_STAGE_DELETED
    with pytest.raises(ValueError, match="unknown lifecycle stage"):
        lifecycle_stages.to_proto("gone")
    with pytest.raises(ValueError, match="unknown lifecycle stage"):
        lifecycle_stages.from_proto(tracking_pb2.LIFECYCLE_STAGE_UNSPECIFIED)
