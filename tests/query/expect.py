"""Assertions on failed gRPC calls."""

from __future__ import annotations

from typing import Any

import grpc
import pytest


def rpc_error(call: Any, request: Any, code: grpc.StatusCode) -> str:
    """Call, expect it to fail with `code`, and return the error's details."""
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=10)
    error: Any = info.value
    assert error.code() == code, error.details()
    details: str = error.details()
    return details
