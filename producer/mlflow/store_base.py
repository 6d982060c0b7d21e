"""What every part of the tracking store shares: MLflow's base class and the backend."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from mlflow.store.tracking.abstract_store import AbstractStore

from tracklog.client.tracklog_client import TracklogClient
from tracklog.mlflow.backend import Backend, backend_for

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound="StoreBase")


class StoreBase(AbstractStore):
    def __init__(self, store_uri: str, artifact_uri: str | None = None) -> None:
        super().__init__()
        self.store_uri = store_uri
        # an MLflow server's --default-artifact-root (None in a training process: the
        # deployment decides where a new experiment's artifacts go)
        self.artifact_root_uri = artifact_uri
        self.backend: Backend = backend_for(store_uri)

    @property
    def client(self) -> TracklogClient:
        return self.backend.client


def settled(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """A write: in a fenced backend (MLflow's server) it answers once Kafka has it."""

    @functools.wraps(method)
    def wrapped(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        result = method(self, *args, **kwargs)
        self.backend.settle()
        return result

    return wrapped  # type: ignore[return-value]
