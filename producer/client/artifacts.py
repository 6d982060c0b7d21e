"""The artifacts part of `TracklogClient`: MLflow's client artifact methods, by run id.

Files go straight to the run's artifact store; the ``ArtifactLogged`` events go
through the client's session (``self._session`` when the client has one, else
the default session of `tracklog.get_session`). A run's ``artifact_uri`` comes
from the session when this process started the run, else from ``GetRun``.
"""

from __future__ import annotations

import os
from typing import Any

from tracklog.artifacts.logger import ArtifactLogger
from tracklog.artifacts.store import FileInfo
from tracklog.session.default import get_session
from tracklog.v1 import query_pb2, query_pb2_grpc


class ArtifactsMixin:
    """Methods of `TracklogClient` for artifacts; they use the client's query stub."""

    _query: query_pb2_grpc.QueryServiceStub

    def _artifact_logger(self) -> ArtifactLogger:
        logger: ArtifactLogger | None = getattr(self, "_artifacts_logger", None)
        if logger is None:
            session = getattr(self, "_session", None)
            if session is None:
                session = get_session()
            logger = session.artifacts.with_lookup(self._stored_artifact_uri)
            self._artifacts_logger = logger
        return logger

    def _stored_artifact_uri(self, run_id: str) -> str:
        request = query_pb2.GetRunRequest(run_id=run_id)
        sync = getattr(self, "_sync", None)  # TracklogClient's read-your-writes wait
        if sync is not None:
            sync()
        call = getattr(self, "_call", None)  # TracklogClient's error mapping, when present
        reply = call(self._query.GetRun, request) if call else self._query.GetRun(request)
        return str(reply.run.info.artifact_uri)

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        self._artifact_logger().log_artifact(local_path, artifact_path, run_id=run_id)

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        self._artifact_logger().log_artifacts(local_dir, artifact_path, run_id=run_id)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._artifact_logger().log_text(text, artifact_file, run_id=run_id)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        self._artifact_logger().log_dict(dictionary, artifact_file, run_id=run_id)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        self._artifact_logger().log_figure(figure, artifact_file, run_id=run_id)

    def get_artifact_uri(self, run_id: str, artifact_path: str | None = None) -> str:
        return self._artifact_logger().get_artifact_uri(artifact_path, run_id=run_id)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return self._artifact_logger().list_artifacts(path, run_id=run_id)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        return self._artifact_logger().download_artifacts(path, dst_path, run_id=run_id)
