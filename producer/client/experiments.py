"""The experiments part of `TracklogClient`, with MLflow's MlflowClient names.

Names are unique among experiments: create and rename check with the query
service first (and the projection keeps the first owner of a name if two
processes still race). Ids follow `tracklog.experiment_names`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import grpc

from tracklog import experiment_names, inputs
from tracklog.client.base import ClientBase
from tracklog.client.entities import experiment as to_experiment
from tracklog.client.errors import TracklogError, from_rpc
from tracklog.client.registry_entities import PagedList
from tracklog.contract import validation
from tracklog.contract.locations import join_uri
from tracklog.entities import Experiment
from tracklog.events import lifecycle as events_tracking
from tracklog.events import payloads as events
from tracklog.v1 import query_pb2, tracking_pb2

VIEW_TYPES = {
    "ACTIVE_ONLY": tracking_pb2.VIEW_TYPE_ACTIVE_ONLY,
    "DELETED_ONLY": tracking_pb2.VIEW_TYPE_DELETED_ONLY,
    "ALL": tracking_pb2.VIEW_TYPE_ALL,
}


class ExperimentsMixin(ClientBase):
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
        *,
        root: str | None = None,
    ) -> str:
        """Create an experiment and return its id; ALREADY_EXISTS when the name is taken.

        Without ``artifact_location`` its artifacts go to ``<root>/<id>`` when ``root`` is
        given (an MLflow server's default artifact root), else under the deployment's root."""
        name = validation.experiment_name(name)
        tag_pairs = inputs.tag_pairs(inputs.tags_from(tags or {}))
        self._sync()
        try:
            resolved = experiment_names.resolve_with(self._query, name, self._timeout)
        except experiment_names.ExperimentDeletedError as exc:
            raise TracklogError("ALREADY_EXISTS", str(exc)) from None
        except grpc.RpcError as error:
            raise from_rpc(error) from error
        if resolved.exists:
            raise TracklogError("ALREADY_EXISTS", f"experiment {name!r} already exists")
        session = self._writer()
        if artifact_location is None and root is not None:
            artifact_location = join_uri(root, resolved.experiment_id)
        location = session.artifacts.experiment_location(resolved.experiment_id, artifact_location)
        payload = events.experiment_created(name, time.time_ns(), location)
        payload.tags.extend(events_tracking.experiment_tag_set(k, v).tag for k, v in tag_pairs)
        session.emit(resolved.experiment_id, [payload])
        return resolved.experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        self._sync()
        request = query_pb2.GetExperimentRequest(experiment_id=experiment_id)
        return to_experiment(self._call(self._query.GetExperiment, request).experiment)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment holding ``name``, or None (as MLflow)."""
        self._sync()
        try:
            reply = self._call(self._query.GetExperiment, query_pb2.GetExperimentRequest(name=name))
        except TracklogError as error:
            if error.code == "NOT_FOUND":
                return None
            raise
        return to_experiment(reply.experiment)

    def search_experiments(
        self,
        view_type: int | str = tracking_pb2.VIEW_TYPE_ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """MLflow's search_experiments: filter on name / tags.<key>; `.token` pages on.

        ``view_type``: `tracklog.ViewType` (1 active, 2 deleted, 3 all) or its name."""
        view = VIEW_TYPES.get(view_type) if isinstance(view_type, str) else view_type
        if view is None or view not in VIEW_TYPES.values():
            raise ValueError(f"view_type must be one of {sorted(VIEW_TYPES)}, got {view_type!r}")
        self._sync()
        request = query_pb2.SearchExperimentsRequest(
            view_type=tracking_pb2.ViewType.ValueType(view),
            max_results=max_results,
            filter=filter_string or "",
            order_by=order_by or [],
            page_token=page_token or "",
        )
        reply = self._call(self._query.SearchExperiments, request)
        return PagedList([to_experiment(e) for e in reply.experiments], reply.next_page_token)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename; ALREADY_EXISTS when another experiment holds ``new_name``."""
        new_name = validation.experiment_name(new_name)
        self.get_experiment(experiment_id)  # NOT_FOUND for an unknown id
        holder = self.get_experiment_by_name(new_name)
        if holder is not None and holder.experiment_id != experiment_id:
            raise TracklogError(
                "ALREADY_EXISTS",
                f"experiment name {new_name!r} is taken by experiment {holder.experiment_id}",
            )
        self._writer().emit(experiment_id, [events_tracking.experiment_renamed(new_name)])

    def delete_experiment(self, experiment_id: str) -> None:
        self.get_experiment(experiment_id)
        payload = events_tracking.experiment_deleted(time.time_ns())
        self._writer().emit(experiment_id, [payload])

    def restore_experiment(self, experiment_id: str) -> None:
        self.get_experiment(experiment_id)
        self._writer().emit(experiment_id, [events_tracking.experiment_restored()])

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        payload = events_tracking.experiment_tag_set(key, value)
        self._writer().emit(validation.validate_id("experiment id", experiment_id), [payload])

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        payload = events_tracking.experiment_tag_deleted(key)
        self._writer().emit(validation.validate_id("experiment id", experiment_id), [payload])
