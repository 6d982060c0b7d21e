"""`import tracklog` is lazy (PEP 562): the public names resolve on first use, `__all__`
lists exactly the names `_EXPORTS` maps, and the worker loads none of the SDK."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tracklog

# what the worker may load of the `tracklog` package besides its own modules
WORKER_MAY_LOAD = ("tracklog", "tracklog._fork_safety")
WORKER_PACKAGES = ("tracklog.ingest", "tracklog.contract", "tracklog.v1", "tracklog.registry")


def test_every_public_name_resolves_from_the_module_exports_names() -> None:
    for name in tracklog.__all__:
        value = getattr(tracklog, name)
        module = tracklog._EXPORTS[name]
        assert value is getattr(sys.modules[module], name), (name, module)


def test_all_lists_exactly_the_exported_names() -> None:
    assert sorted(tracklog.__all__) == sorted(tracklog._EXPORTS)
    assert len(set(tracklog.__all__)) == len(tracklog.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        tracklog.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def _is_worker_module(name: str) -> bool:
    return name in WORKER_MAY_LOAD or any(
        name == package or name.startswith(package + ".") for package in WORKER_PACKAGES
    )


def test_the_worker_loads_none_of_the_sdk() -> None:
    script = (
        "import sys, tracklog.ingest.worker\n"
        "print('\\n'.join(m for m in sys.modules if m == 'tracklog' or m.startswith('tracklog.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout.split()
    assert "tracklog.ingest.worker" in loaded
    assert [name for name in loaded if not _is_worker_module(name)] == []
