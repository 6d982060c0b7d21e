"""Importing tracklog turns gRPC's fork handlers off unless the environment says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "import os, tracklog, grpc; print(os.environ.get('GRPC_ENABLE_FORK_SUPPORT'))"


@pytest.mark.parametrize(("given", "seen"), [(None, "false"), ("true", "true")])
def test_grpc_fork_support_defaults_off(given: str | None, seen: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    if given is not None:
        env["GRPC_ENABLE_FORK_SUPPORT"] = given
    probe = [sys.executable, "-c", PROBE]
    answer = subprocess.run(probe, env=env, capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == seen
