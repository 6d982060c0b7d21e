"""What the REST-semantics tests (test_rest_*.py) share: the server they talk to, and how
MLflow refuses a bad request.

They run against the package's one `mlflow server` over one Tracklog pipeline (`rest_server`
in tests/mlflow_plugin/conftest.py); each test works in experiments of its own, named after
the test. Checks go through MLflow's client where it is the caller that matters, and through
raw HTTP where the status and message of a refused request are the behaviour (MLflow answers
400 with its own words).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"


@dataclass(frozen=True, slots=True)
class RestServer:
    """The package's `mlflow server` over Tracklog: its URL, its working directory, and
    the experiments it listed before anything was written through it."""

    url: str
    cwd: Path
    first_listing: list[str]

    def post(self, path: str, payload: dict[str, Any]) -> requests.Response:
        return requests.post(f"{self.url}{path}", json=payload, timeout=60)

    def get(self, endpoint: str, **params: Any) -> requests.Response:
        return requests.get(f"{self.url}{endpoint}", params=params, timeout=60)


def refused(reply: requests.Response, message: str) -> None:
    """MLflow's answer to a bad request: HTTP 400 carrying its message."""
    assert reply.status_code == 400, reply.text
    assert reply.json()["error_code"] == "INVALID_PARAMETER_VALUE", reply.text
    assert message in reply.json()["message"], reply.text
