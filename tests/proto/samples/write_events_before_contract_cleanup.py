"""Writes events_before_contract_cleanup.b64 and .expected: one envelope of every payload
kind, built by the code as it was before issue 11's contract cleanup (commit 38c9552),
and what the Postgres and ClickHouse projectors made of each.

Run once, at that commit, from the repository root:
    .venv/bin/python tests/proto/samples/write_events_before_contract_cleanup.py
The files are kept; tests/proto/test_events_before_contract_cleanup.py reads them with
the current code. The script itself only runs against the old contract.
"""

from __future__ import annotations

import base64
from pathlib import Path

from tracklog.events import lifecycle, logged_models, payloads
from tracklog.events.logged_models import ModelMetric
from tracklog.ingest.decode.envelope import decode
from tracklog.ingest.projectors import clickhouse, postgres
from tracklog.query.registry.writes import envelope as registry_envelope
from tracklog.v1 import events_pb2 as pb

HERE = Path(__file__).resolve().parent
T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z in ns
EXP, RUN, MODEL, REG = "0123456789abcdef0123456789abcdef", "r" * 32, "m-" + "a" * 32, "rm" * 16
DIGEST = "ab" * 32


def sdk_events() -> list[pb.Envelope]:
    """Envelopes as the SDK's sender built them: sequence counted per aggregate from 1."""
    items: list[tuple[str, payloads.Payload]] = [
        (EXP, payloads.experiment_created("exp", T0, "s3://bucket/exp")),
        (EXP, lifecycle.experiment_renamed("exp2")),
        (EXP, lifecycle.experiment_tag_set("team", "a")),
        (EXP, lifecycle.experiment_tag_deleted("team")),
        (EXP, lifecycle.experiment_deleted(T0 + 1)),
        (EXP, lifecycle.experiment_restored()),
        (
            RUN,
            payloads.run_started(
                experiment_id=EXP,
                run_name="run",
                parent_run_id=None,
                tags=[("mlflow.user", "ann")],
                start_ns=T0 + 2,
                user_id="ann",
                artifact_uri=f"s3://bucket/exp/{RUN}/artifacts",
            ),
        ),
        (RUN, payloads.params_logged([("lr", "0.1"), ("depth", "3")])),
        (
            RUN,
            payloads.metrics_logged(
                ["loss", "loss", "acc"], [0, 1, 1], [10, 20, 20], [1.0, 0.5, 0.9]
            ),
        ),
        (RUN, payloads.tags_set([("k", "v")])),
        (RUN, lifecycle.run_tag_deleted("k")),
        (RUN, lifecycle.run_renamed("run2")),
        (RUN, payloads.artifact_logged("model/weights.bin", 1234, DIGEST)),
        (
            RUN,
            lifecycle.dataset_input_logged(
                name="d",
                digest="d1",
                source_type="local",
                source='{"uri": "/d"}',
                schema="{}",
                profile='{"num_rows": 3}',
                context="training",
                tags=[("x", "y")],
            ),
        ),
        (RUN, logged_models.logged_model_output(MODEL, 1)),
        (RUN, logged_models.logged_model_input(MODEL)),
        (RUN, lifecycle.run_status("RUNNING", None)),
        (RUN, payloads.run_ended("FINISHED", T0 + 3)),
        (RUN, lifecycle.run_deleted(T0 + 4)),
        (RUN, lifecycle.run_restored()),
        (
            MODEL,
            logged_models.logged_model_created(
                experiment_id=EXP,
                name="model",
                source_run_id=RUN,
                model_type="sklearn",
                artifact_location=f"s3://bucket/exp/models/{MODEL}/artifacts",
                creation_ns=T0 + 5,
                tags={"t": "1"},
                params={"alpha": 0.5},
            ),
        ),
        (MODEL, logged_models.logged_model_params_logged({"beta": 2})),
        (
            MODEL,
            logged_models.logged_model_metrics_logged(
                RUN, [ModelMetric("auc", 0.8, 30, 1, "d", "d1")]
            ),
        ),
        (MODEL, logged_models.logged_model_tag_set("u", "2")),
        (MODEL, logged_models.logged_model_tag_deleted("t")),
        (MODEL, logged_models.logged_model_finalized("READY", "done")),
        (MODEL, logged_models.logged_model_deleted(T0 + 6)),
    ]
    sequences: dict[str, int] = {}
    envelopes = []
    for n, (aggregate_id, payload) in enumerate(items):
        sequences[aggregate_id] = sequences.get(aggregate_id, 0) + 1
        envelopes.append(
            payloads.envelope(
                event_id=f"{n:032x}",
                aggregate_id=aggregate_id,
                sequence=sequences[aggregate_id],
                occurred_ns=T0 + 1000 * n,
                payload=payload,
            )
        )
    return envelopes


def registry_events() -> list[pb.Envelope]:
    """Envelopes as the registry service built them: the actor in the payload, sequence 0."""
    tag = pb.Tag(key="k", value="v")
    ready = pb.MODEL_VERSION_STATUS_READY
    items = [
        pb.RegisteredModelCreated(name="reg", description="d", tags=[tag], actor="ann"),
        pb.RegisteredModelRenamed(new_name="reg2", actor="bob"),
        pb.RegisteredModelDescriptionUpdated(description="d2", actor="cy"),
        pb.RegisteredModelTagSet(tag=tag, actor="dee"),
        pb.RegisteredModelTagDeleted(key="k", actor="eve"),
        pb.ModelVersionCreated(
            source=f"models:/{MODEL}",
            run_id=RUN,
            description="v",
            tags=[tag],
            status=pb.MODEL_VERSION_STATUS_PENDING_REGISTRATION,
            actor="fay",
            logged_model_id=MODEL,
        ),
        pb.ModelVersionStatusChanged(version=1, status=ready, status_message="ok", actor="gus"),
        pb.ModelVersionCreated(source="s3://b/m", status=ready, actor="hal"),
        pb.ModelVersionDescriptionUpdated(version=1, description="v2", actor="ivy"),
        pb.ModelVersionTagSet(version=1, tag=tag, actor="jo"),
        pb.ModelVersionTagDeleted(version=1, key="k", actor="kim"),
        pb.ModelVersionStageTransitioned(
            version=1,
            stage=pb.MODEL_VERSION_STAGE_PRODUCTION,
            archive_existing_versions=True,
            actor="lu",
        ),
        pb.RegisteredModelAliasSet(alias="champion", version=1, actor="max"),
        pb.RegisteredModelAliasDeleted(alias="champion", actor="ned"),
        pb.ModelVersionDeleted(version=2, actor="oz"),
        pb.RegisteredModelDeleted(actor="pat"),
    ]
    return [
        registry_envelope(f"{100 + n:032x}", REG, T0 + 100_000 + 1000 * n, payload)
        for n, payload in enumerate(items)
    ]


def main() -> None:
    envelopes = [*sdk_events(), *registry_events()]
    lines, expected = [], []
    for offset, env in enumerate(envelopes):
        value = env.SerializeToString()
        decoded = decode(value)
        lines.append(base64.b64encode(value).decode())
        projected = (postgres.project(decoded), clickhouse.project(decoded, "log", 0, offset))
        expected.append(repr(projected))
    (HERE / "events_before_contract_cleanup.b64").write_text("\n".join(lines) + "\n")
    (HERE / "events_before_contract_cleanup.expected").write_text("\n".join(expected) + "\n")


if __name__ == "__main__":
    main()
