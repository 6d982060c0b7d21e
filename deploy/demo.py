"""`tracklog demo`: train a small scikit-learn model, log it, print what the service returns."""

from __future__ import annotations

import time
from typing import Any

import grpc

from tracklog.contract.channels import open_channel
from tracklog.contract.settings import Settings
from tracklog.v1 import query_pb2, query_pb2_grpc

STEPS = 1000
METRICS = ("train_loss", "val_accuracy", "weight_norm")


def train_and_log(settings: Settings) -> str:
    """Train an SGD classifier on the digits data set shipped with scikit-learn; return run id."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import log_loss
    from sklearn.model_selection import train_test_split

    import tracklog

    tracklog.configure(settings.kafka, artifact_root=settings.artifact_root or None)
    tracklog.set_experiment("tracklog-demo")
    features, labels = load_digits(return_X_y=True)
    features = features / 16.0
    x_train, x_val, y_train, y_val = train_test_split(
        features, labels, test_size=0.25, random_state=0
    )
    classes = np.unique(labels)
    rng = np.random.default_rng(0)
    params = {"model": "SGDClassifier", "loss": "log_loss", "alpha": 1e-4, "batch_size": 64}
    with tracklog.start_run(run_name="sgd-digits", tags={"team": "demo"}) as run:
        tracklog.log_params(params)
        tracklog.set_tags({"dataset": "sklearn.digits", "framework": "scikit-learn"})
        model = SGDClassifier(loss="log_loss", alpha=params["alpha"], random_state=0)
        for step in range(STEPS):
            batch = rng.choice(len(x_train), size=64, replace=False)
            model.partial_fit(x_train[batch], y_train[batch], classes=classes)
            loss = log_loss(y_train[batch], model.predict_proba(x_train[batch]), labels=classes)
            tracklog.log_metrics(
                {
                    "train_loss": float(loss),
                    "val_accuracy": float(model.score(x_val, y_val)),
                    "weight_norm": float(np.linalg.norm(model.coef_)),
                },
                step=step,
            )
        run_id: str = run.info.run_id
    unsent = tracklog.get_session().close(timeout=60)  # flush, then let go of the broker
    if unsent.events or unsent.points:
        raise RuntimeError(
            f"the broker did not acknowledge the demo's events within 60 s: {unsent}"
        )
    return run_id


def wait_for_run(stub: query_pb2_grpc.QueryServiceStub, run_id: str, timeout: float) -> Any:
    """Poll GetRun until the run is finished and every metric reached its last step."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            run = stub.GetRun(query_pb2.GetRunRequest(run_id=run_id), timeout=5).run
            latest = {m.key: m.step for m in run.data.metrics}
            if run.info.end_time.seconds and all(latest.get(k) == STEPS - 1 for k in METRICS):
                return run
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} was not fully projected within {timeout} s")
        time.sleep(0.2)


def history(stub: query_pb2_grpc.QueryServiceStub, run_id: str, key: str) -> list[Any]:
    points: list[Any] = []
    token = ""
    while True:
        page = stub.GetMetricHistory(
            query_pb2.GetMetricHistoryRequest(run_id=run_id, metric_key=key, page_token=token)
        )
        points.extend(page.points)
        token = page.next_page_token
        if not token:
            return points


def run_demo(settings: Settings, query_addr: str) -> bool:
    started = time.monotonic()
    run_id = train_and_log(settings)
    print(f"demo: trained and logged run {run_id} in {time.monotonic() - started:.1f} s")
    with open_channel(query_addr) as channel:
        stub = query_pb2_grpc.QueryServiceStub(channel)
        run = wait_for_run(stub, run_id, timeout=120)
        print(f"demo: query service at {query_addr} returns:")
        info = run.info
        print(f"  run {info.run_id} '{info.run_name}' status={_status_name(info.status)}")
        print("  params: " + ", ".join(f"{p.key}={p.value}" for p in run.data.params))
        print(
            "  tags:   "
            + ", ".join(
                f"{t.key}={t.value}" for t in run.data.tags if not t.key.startswith("mlflow.")
            )
        )
        complete = True
        for metric in sorted(run.data.metrics, key=lambda m: m.key):
            points = history(stub, run_id, metric.key)
            complete = complete and len(points) == STEPS
            print(
                f"  {metric.key:<13} latest={metric.value:.4f} at step {metric.step}, "
                f"{len(points)} points in history"
            )
    return complete


def _status_name(status: int) -> str:
    from tracklog.v1 import events_pb2

    return events_pb2.RunStatus.Name(status).removeprefix("RUN_STATUS_")  # type: ignore[arg-type]
