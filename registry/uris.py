"""`models:/` URIs: `models:/name/3`, `models:/name/Production`, `models:/name@champion`,
MLflow 3's `models:/<logged model id>`; and `runs:/<run_id>/<path>` sources."""

from __future__ import annotations

from dataclasses import dataclass

from tracklog.registry import names, stages
from tracklog.registry.errors import InvalidArgument

MODELS_SCHEME = "models:/"
RUNS_SCHEME = "runs:/"


@dataclass(frozen=True, slots=True)
class ModelUri:
    """Exactly one of version, stage, alias is set (`latest` is stage None ... any: all None)."""

    name: str
    version: int | None = None
    stage: str | None = None
    alias: str | None = None
    latest: bool = False


def parse_model_uri(uri: str) -> ModelUri:
    """Parse a `models:/` URI, or InvalidArgument naming what is wrong."""
    if not uri.startswith(MODELS_SCHEME):
        raise InvalidArgument(f"not a models:/ URI: {uri!r}")
    rest = uri[len(MODELS_SCHEME) :].lstrip("/")
    if "@" in rest:
        name, _, alias = rest.partition("@")
        if "/" in alias:
            raise InvalidArgument(f"invalid models:/ URI {uri!r}: nothing may follow the alias")
        return ModelUri(names.model_name(name), alias=names.alias(alias))
    parts = rest.split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise InvalidArgument(
            f"invalid models:/ URI {uri!r}: expected models:/<name>/<version or stage> "
            "or models:/<name>@<alias>"
        )
    name, selector = names.model_name(parts[0]), parts[1]
    if selector.isdigit():
        return ModelUri(name, version=names.version(int(selector)))
    if selector.lower() == "latest":
        return ModelUri(name, latest=True)
    return ModelUri(name, stage=stages.parse_stage(selector))


def logged_model_id(uri: str) -> str:
    """The logged model a `models:/<model id>` URI names (one segment, no alias); "" otherwise.

    As MLflow's parser: `models:/name/3` and `models:/name@alias` name registry versions."""
    if not uri.startswith(MODELS_SCHEME):
        return ""
    rest = uri[len(MODELS_SCHEME) :].lstrip("/")
    if not rest or "/" in rest or "@" in rest:
        return ""
    return rest


@dataclass(frozen=True, slots=True)
class RunsUri:
    run_id: str
    path: str


def parse_runs_uri(uri: str) -> RunsUri | None:
    """`runs:/<run_id>/<path>` -> its parts; None for any other URI."""
    if not uri.startswith(RUNS_SCHEME):
        return None
    run_id, _, path = uri[len(RUNS_SCHEME) :].lstrip("/").partition("/")
    if not run_id:
        raise InvalidArgument(f"invalid runs:/ URI {uri!r}: no run id")
    return RunsUri(run_id, path)
