"""Request validation (pure)."""

from __future__ import annotations

import pytest

from tracklog.query import requests
from tracklog.query.errors import InvalidArgument
from tracklog.query.stores.records import KeyValue
from tracklog.v1 import events_pb2, query_pb2


def test_experiment_selector_takes_the_id_or_the_name() -> None:
    by_id = requests.experiment_selector(query_pb2.GetExperimentRequest(experiment_id="e1"))
    assert (by_id.experiment_id, by_id.name) == ("e1", None)
    by_name = requests.experiment_selector(query_pb2.GetExperimentRequest(name="n"))
    assert (by_name.experiment_id, by_name.name) == (None, "n")


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (query_pb2.GetExperimentRequest(), "experiment_id or name"),
        (query_pb2.GetExperimentRequest(experiment_id=""), "experiment_id must not be empty"),
        (query_pb2.GetExperimentRequest(name=""), "name must not be empty"),
    ],
)
def test_experiment_selector_errors(request_: query_pb2.GetExperimentRequest, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        requests.experiment_selector(request_)


def test_status_names_match_the_runs_table() -> None:
    assert requests.status_name(events_pb2.RUN_STATUS_FINISHED) == "FINISHED"
    assert requests.status_value("KILLED") == events_pb2.RUN_STATUS_KILLED
    assert requests.status_value("nonsense") == events_pb2.RUN_STATUS_UNSPECIFIED
    with pytest.raises(InvalidArgument, match="UNSPECIFIED"):
        requests.status_name(events_pb2.RUN_STATUS_UNSPECIFIED)
    with pytest.raises(InvalidArgument, match="unknown run status 99"):
        requests.status_name(99)  # type: ignore[arg-type]


def test_run_search_defaults_and_filters() -> None:
    request = query_pb2.SearchRunsRequest(
        experiment_ids=["b", "a", "b"],
        statuses=[events_pb2.RUN_STATUS_FAILED, events_pb2.RUN_STATUS_RUNNING],
        param_equals={"lr": "0.1", "bs": "32"},
        tag_equals={"team": "x"},
    )
    search, _ = requests.run_search(request)
    assert search.experiment_ids == ("a", "b")
    assert search.statuses == ("FAILED", "RUNNING")
    assert search.param_equals == (KeyValue("bs", "32"), KeyValue("lr", "0.1"))
    assert search.tag_equals == (KeyValue("team", "x"),)
    assert search.ascending is False
    assert search.limit == 1000
    assert search.after is None


def test_run_search_scope_changes_with_the_query_but_not_the_page() -> None:
    base = query_pb2.SearchRunsRequest(experiment_ids=["a"], page_size=5)
    other_page = query_pb2.SearchRunsRequest(experiment_ids=["a"], page_size=9)
    ascending = query_pb2.SearchRunsRequest(
        experiment_ids=["a"], start_time_order=query_pb2.SORT_ORDER_ASCENDING
    )
    assert requests.run_search(base)[1] == requests.run_search(other_page)[1]
    assert requests.run_search(base)[1] != requests.run_search(ascending)[1]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (query_pb2.SearchRunsRequest(), "experiment_ids"),
        (query_pb2.SearchRunsRequest(experiment_ids=[""]), "empty id"),
        (query_pb2.SearchRunsRequest(experiment_ids=["a"], page_size=50_001), "at most 50000"),
        (query_pb2.SearchRunsRequest(experiment_ids=["a"], page_size=-1), "negative"),
        (query_pb2.SearchRunsRequest(experiment_ids=["a"], page_token="zz"), "page_token"),
        (query_pb2.SearchRunsRequest(experiment_ids=["a"], start_time_order=7), "start_time_order"),  # type: ignore[arg-type]
    ],
)
def test_run_search_errors(request_: query_pb2.SearchRunsRequest, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        requests.run_search(request_)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (query_pb2.GetMetricHistoryRequest(metric_key="loss"), "run_id"),
        (query_pb2.GetMetricHistoryRequest(run_id="r"), "metric_key"),
        (
            query_pb2.GetMetricHistoryRequest(run_id="r", metric_key="k", page_size=100_001),
            "at most 100000",
        ),
    ],
)
def test_metric_history_errors(request_: query_pb2.GetMetricHistoryRequest, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        requests.metric_history(request_)


def test_page_size_defaults() -> None:
    experiments = requests.experiment_page(query_pb2.ListExperimentsRequest())
    history, _ = requests.metric_history(
        query_pb2.GetMetricHistoryRequest(run_id="r", metric_key="k")
    )
    assert (experiments.limit, history.limit) == (100, 10_000)
    with pytest.raises(InvalidArgument, match="at most 1000"):
        requests.experiment_page(query_pb2.ListExperimentsRequest(page_size=1001))
