"""QueryService with authentication on: tokens (missing, bad, revoked), READ per experiment
for point reads, searches that hold only what the caller may read, admins, health."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.query.auth.conftest import ServerFactory, failure, grant_experiment, make_user
from tests.query.rows import insert_experiment, insert_run
from tracklog.query.auth import accounts
from tracklog.query.auth.permissions import Permission
from tracklog.v1 import query_pb2, query_pb2_grpc, series_pb2, tracking_pb2

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
Channels = Callable[..., grpc.Channel]


def _three_experiments(pg: psycopg.Connection[Any]) -> None:
    for i, name in enumerate(("vision", "speech", "tabular")):
        insert_experiment(pg, f"e{i + 1}", name, T0 + timedelta(seconds=i))
        insert_run(pg, f"r{i + 1}", f"e{i + 1}", start=T0)


def _stub(channels: Channels, port: int, token: str = "") -> query_pb2_grpc.QueryServiceStub:
    return query_pb2_grpc.QueryServiceStub(channels(port, token))


def test_a_call_needs_a_live_token_and_health_needs_none(
    pg: psycopg.Connection[Any], auth_server: ServerFactory, channels: Channels
) -> None:
    port = auth_server()
    info = tracking_pb2.GetServiceInfoRequest()
    error = failure(lambda: _stub(channels, port).GetServiceInfo(info))
    assert error.code() == UNAUTHENTICATED and "TRACKLOG_TOKEN" in (error.details() or "")
    bad = failure(lambda: _stub(channels, port, "tlk_not-a-token").GetServiceInfo(info))
    assert bad.code() == UNAUTHENTICATED

    token = make_user(pg, "alice")
    _stub(channels, port, token).GetServiceInfo(info)  # accepted
    (live,) = accounts.list_tokens(pg, "alice")
    assert live.last_used_at is not None and live.revoked_at is None
    accounts.revoke_token(pg, live.token_id)
    revoked = failure(lambda: _stub(channels, port, token).GetServiceInfo(info))
    assert revoked.code() == UNAUTHENTICATED and "revoked" in (revoked.details() or "")

    health = health_pb2_grpc.HealthStub(channels(port))
    reply = health.Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("level", list(Permission))
def test_each_level_on_an_experiment_for_its_reads(
    level: Permission,
    pg: psycopg.Connection[Any],
    auth_server: ServerFactory,
    channels: Channels,
) -> None:
    """Reads need READ: NO_PERMISSIONS is refused, READ, EDIT and MANAGE are allowed."""
    _three_experiments(pg)
    port = auth_server(default_permission="NO_PERMISSIONS")
    token = make_user(pg, "bob")
    grant_experiment(pg, "bob", "e1", level)
    stub = _stub(channels, port, token)
    calls: list[Callable[[], object]] = [
        lambda: stub.GetExperiment(query_pb2.GetExperimentRequest(experiment_id="e1")),
        lambda: stub.GetExperiment(query_pb2.GetExperimentRequest(name="vision")),
        lambda: stub.GetRun(query_pb2.GetRunRequest(run_id="r1")),
        lambda: stub.SearchRuns(query_pb2.SearchRunsRequest(experiment_ids=["e1"])),
        lambda: stub.SearchDatasets(query_pb2.SearchDatasetsRequest(experiment_ids=["e1"])),
        lambda: list(
            stub.StreamMetricHistory(
                series_pb2.StreamMetricHistoryRequest(run_id="r1", metric_key="loss")
            )
        ),
    ]
    for call in calls:
        if level >= Permission.READ:
            call()
        else:
            error = failure(call)
            assert error.code() == DENIED
            assert "'bob' needs READ" in (error.details() or "")
            assert "holds NO_PERMISSIONS" in (error.details() or "")


def test_one_unreadable_experiment_refuses_a_search_over_several(
    pg: psycopg.Connection[Any], auth_server: ServerFactory, channels: Channels
) -> None:
    _three_experiments(pg)
    port = auth_server(default_permission="READ")
    token = make_user(pg, "carol")
    grant_experiment(pg, "carol", "e2", Permission.NO_PERMISSIONS)
    stub = _stub(channels, port, token)
    stub.SearchRuns(query_pb2.SearchRunsRequest(experiment_ids=["e1", "e3"]))
    error = failure(
        lambda: stub.SearchRuns(query_pb2.SearchRunsRequest(experiment_ids=["e1", "e2"]))
    )
    assert error.code() == DENIED and "experiment 'e2'" in (error.details() or "")
    run = failure(lambda: stub.GetRun(query_pb2.GetRunRequest(run_id="r2")))
    assert run.code() == DENIED and "run 'r2'" in (run.details() or "")


@pytest.mark.parametrize("default", ["READ", "NO_PERMISSIONS"])
def test_experiment_listings_hold_only_what_the_caller_may_read(
    default: str, pg: psycopg.Connection[Any], auth_server: ServerFactory, channels: Channels
) -> None:
    _three_experiments(pg)
    port = auth_server(default_permission=default)
    user, admin = make_user(pg, "dave"), make_user(pg, "root", admin=True)
    grant_experiment(pg, "dave", "e1", Permission.EDIT)
    grant_experiment(pg, "dave", "e2", Permission.NO_PERMISSIONS)

    def seen(token: str) -> tuple[list[str], list[str]]:
        stub = _stub(channels, port, token)
        listed = stub.ListExperiments(query_pb2.ListExperimentsRequest(page_size=2))
        ids = [e.experiment_id for e in listed.experiments]
        if listed.next_page_token:
            more = stub.ListExperiments(
                query_pb2.ListExperimentsRequest(page_size=2, page_token=listed.next_page_token)
            )
            ids += [e.experiment_id for e in more.experiments]
        searched = stub.SearchExperiments(query_pb2.SearchExperimentsRequest())
        return ids, sorted(e.experiment_id for e in searched.experiments)

    expected = ["e1", "e3"] if default == "READ" else ["e1"]
    assert seen(user) == (expected, expected)
    assert seen(admin) == (["e1", "e2", "e3"], ["e1", "e2", "e3"])
    # an admin is never refused, whatever the grants say
    grant_experiment(pg, "root", "e2", Permission.NO_PERMISSIONS)
    _stub(channels, port, admin).GetRun(query_pb2.GetRunRequest(run_id="r2"))


def test_a_missing_resource_is_not_found_rather_than_refused(
    pg: psycopg.Connection[Any], auth_server: ServerFactory, channels: Channels
) -> None:
    port = auth_server(default_permission="NO_PERMISSIONS")
    stub = _stub(channels, port, make_user(pg, "erin"))
    error = failure(lambda: stub.GetRun(query_pb2.GetRunRequest(run_id="nope")))
    assert error.code() == grpc.StatusCode.NOT_FOUND
