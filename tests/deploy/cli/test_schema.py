"""`tracklog schema clickhouse`: the DDL the worker runs, for one node or a cluster."""

from __future__ import annotations

import pytest

from tracklog.contract.read_model import clickhouse_schema
from tracklog.deploy.cli.main import main


def printed(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["schema", "clickhouse", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_prints_the_cluster_ddl(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = printed(capsys, "--cluster", "metrics", "--database", "tl")
    assert code == 0
    assert out == "".join(
        f"{s};\n\n" for s in clickhouse_schema.cluster_statements("tl", "metrics")
    )


def test_the_cluster_comes_from_the_environment_unless_given(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLOG_CLICKHOUSE_CLUSTER", "metrics")
    monkeypatch.setenv("TRACKLOG_CLICKHOUSE_DATABASE", "tl")
    _, from_env, _ = printed(capsys)
    assert "ENGINE = Distributed('metrics', 'tl', 'metric_points_local', partition)" in from_env
    _, one_node, _ = printed(capsys, "--cluster", "")
    assert one_node == "".join(f"{s};\n\n" for s in clickhouse_schema.single_node_statements("tl"))


def test_a_bad_cluster_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = printed(capsys, "--cluster", "x; DROP TABLE y")
    assert (code, out) == (2, "")
    assert "not a plain cluster name" in err
