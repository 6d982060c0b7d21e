"""MLflow's own client, server and web UI over Tracklog: the ``tracklog`` store plugin.

MLflow finds stores for a URI scheme through the entry-point groups
``mlflow.tracking_store`` and ``mlflow.model_registry_store``; this package registers
``tracklog`` in both (``pip install 'tracklog[mlflow]'``). Then

    mlflow.set_tracking_uri("tracklog://127.0.0.1:50051")

makes MLflow's client write through a Tracklog `Session` (batched, spooled, never waiting
on the network) and read through the query and registry services, and
``mlflow server --backend-store-uri tracklog://127.0.0.1:50051`` serves MLflow's REST API
and UI over the same stores. The URI form is in `tracklog.mlflow.uri`.

The entry points are the two ``make_*`` functions (not named like the modules they
import, which would replace them as attributes of this package): they import the stores
only when MLflow asks for one, because a plugin module that imports MLflow's client at
load time meets a half-initialised ``mlflow.tracking`` and is silently not registered.

May import: MLflow, the SDK and `tracklog.contract` / `tracklog.v1` / `tracklog.registry`;
never `tracklog.ingest`, `tracklog.query` or `tracklog.deploy` (it reaches the services over
gRPC like any client).
"""

from __future__ import annotations

from typing import Any


def make_tracking_store(store_uri: str, artifact_uri: str | None = None) -> Any:
    """MLflow's tracking-store builder for ``tracklog://`` URIs."""
    from tracklog.mlflow.tracking_store import TracklogTrackingStore

    return TracklogTrackingStore(store_uri, artifact_uri)


def make_registry_store(store_uri: str, tracking_uri: str | None = None) -> Any:
    """MLflow's model-registry-store builder for ``tracklog://`` URIs."""
    from tracklog.mlflow.registry_store import TracklogRegistryStore

    return TracklogRegistryStore(store_uri, tracking_uri)
