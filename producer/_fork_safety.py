"""Imported first by `tracklog`, before grpc: gRPC's fork support off by default.

Training code and MLflow's CLI fork while Tracklog's gRPC channel is open (a DataLoader's
workers; ``mlflow models serve`` starting uvicorn through ``preexec_fn``), and gRPC's fork
handlers then abort some children (SIGABRT after "epoll_wait error: Bad file
descriptor"); no child uses the parent's channel. ``GRPC_ENABLE_FORK_SUPPORT=true`` in the
environment keeps gRPC's own default. It has no effect if grpc was imported before tracklog.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
