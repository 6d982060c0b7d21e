"""The registry's pure rules: stages, names, aliases, tags, URIs, filters."""

from __future__ import annotations

import pytest

from tracklog.registry import filters, names, stages, uris
from tracklog.registry.errors import InvalidArgument
from tracklog.registry.filters import Clause
from tracklog.registry.uris import ModelUri


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("None", "None"),
        ("none", "None"),
        ("STAGING", "Staging"),
        ("production", "Production"),
        (" Archived ", "Archived"),
    ],
)
def test_stages_parse_case_insensitively(text: str, stage: str) -> None:
    assert stages.parse_stage(text) == stage


@pytest.mark.parametrize("text", ["", "prod", "Deployed", "None2"])
def test_unknown_stages_are_named_in_the_error(text: str) -> None:
    with pytest.raises(InvalidArgument, match=f"invalid stage {text!r}"):
        stages.parse_stage(text)


def test_stage_lists_default_to_all_and_deduplicate() -> None:
    assert stages.parse_stages([]) == stages.STAGES
    assert stages.parse_stages(["production", "Production", "staging"]) == (
        "Production",
        "Staging",
    )


def test_stage_and_status_round_trip_through_the_proto_enums() -> None:
    for stage in stages.STAGES:
        assert stages.stage_from_proto(stages.stage_to_proto(stage)) == stage
    for status in (stages.PENDING, stages.READY, stages.FAILED):
        assert stages.status_from_proto(stages.status_to_proto(status)) == status
    with pytest.raises(InvalidArgument, match="invalid stage number 0"):
        stages.stage_from_proto(0)


@pytest.mark.parametrize("alias", ["champion", "Champion-2", "a_b", "x" * 255, "v", "vx1", "v1a"])
def test_valid_aliases(alias: str) -> None:
    assert names.alias(alias) == alias


@pytest.mark.parametrize(
    ("alias", "problem"),
    [
        ("latest", "reserved"),
        ("LATEST", "reserved"),
        ("v1", "reserved"),
        ("V42", "reserved"),
        ("", "must not be empty"),
        ("has space", "only letters"),
        ("a.b", "only letters"),
        ("a/b", "only letters"),
        ("x" * 256, "at most 255"),
    ],
)
def test_invalid_aliases_say_why(alias: str, problem: str) -> None:
    with pytest.raises(InvalidArgument, match=problem):
        names.alias(alias)


@pytest.mark.parametrize("name", ["fraud", "Fraud Detector", "a.b-c_d", "x" * 256])
def test_valid_model_names(name: str) -> None:
    assert names.model_name(name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("a/b", "'/'"),
        ("a@b", "'@'"),
        ("a:b", "':'"),
        ("a\nb", "control"),
        (" padded", "leading or trailing"),
        ("x" * 257, "at most 256"),
    ],
)
def test_invalid_model_names_say_why(name: str, problem: str) -> None:
    with pytest.raises(InvalidArgument, match=problem):
        names.model_name(name)


def test_versions_tags_and_texts() -> None:
    assert names.version(1) == 1
    with pytest.raises(InvalidArgument, match="versions start at 1"):
        names.version(0)
    assert names.tag("team", "risk") == ("team", "risk")
    with pytest.raises(InvalidArgument, match="invalid tag key"):
        names.tag("", "x")
    with pytest.raises(InvalidArgument, match="NUL"):
        names.text("description", "a\x00b")


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("models:/fraud/3", ModelUri("fraud", version=3)),
        ("models:/fraud/Production", ModelUri("fraud", stage="Production")),
        ("models:/fraud/staging", ModelUri("fraud", stage="Staging")),
        ("models:/fraud@champion", ModelUri("fraud", alias="champion")),
        ("models:/fraud/latest", ModelUri("fraud", latest=True)),
        ("models:/my model/1", ModelUri("my model", version=1)),
    ],
)
def test_models_uris_parse(uri: str, parsed: ModelUri) -> None:
    assert uris.parse_model_uri(uri) == parsed


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("runs:/abc/model", "not a models:/ URI"),
        ("models:/fraud", "expected models:/<name>"),
        ("models:/fraud/1/extra", "expected models:/<name>"),
        ("models:/fraud/0", "versions start at 1"),
        ("models:/fraud/Prod", "invalid stage"),
        ("models:/fraud@latest", "reserved"),
        ("models:/fraud@v2", "reserved"),
        ("models:/fraud@a/b", "nothing may follow the alias"),
    ],
)
def test_invalid_models_uris_say_why(uri: str, problem: str) -> None:
    with pytest.raises(InvalidArgument, match=problem):
        uris.parse_model_uri(uri)


def test_runs_uris() -> None:
    assert uris.parse_runs_uri("runs:/abc123/model/dir") == uris.RunsUri("abc123", "model/dir")
    assert uris.parse_runs_uri("s3://bucket/model") is None
    with pytest.raises(InvalidArgument, match="no run id"):
        uris.parse_runs_uri("runs:/")


def test_filters_parse_names_tags_and_run_ids() -> None:
    parsed = filters.parse(
        "name ILIKE '%fraud%' and tags.team = 'risk' AND tags.`a b` != \"x\"",
        filters.MODEL_FIELDS,
    )
    assert parsed == (
        Clause("name", "ILIKE", "%fraud%"),
        Clause("tag", "=", "risk", "team"),
        Clause("tag", "!=", "x", "a b"),
    )
    assert filters.parse("", filters.MODEL_FIELDS) == ()
    assert filters.parse("tag.`mlflow.x` != 'true'", filters.MODEL_FIELDS) == (
        Clause("tag", "!=", "true", "mlflow.x"),
    )
    assert filters.parse("run_id = 'r1'", filters.VERSION_FIELDS) == (Clause("run_id", "=", "r1"),)
    assert filters.parse("name = 'it\\'s'", filters.MODEL_FIELDS) == (Clause("name", "=", "it's"),)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("run_id = 'x'", "invalid filter field 'run_id'"),
        ("name ~ 'x'", "expected <field>"),
        ("name = x", "expected <field>"),
        ("name = 'a' OR name = 'b'", "expected AND"),
        ("tags.team LIKE 'r%'", "tags support only"),
    ],
)
def test_invalid_filters_say_why(text: str, problem: str) -> None:
    with pytest.raises(InvalidArgument, match=problem):
        filters.parse(text, filters.MODEL_FIELDS)
