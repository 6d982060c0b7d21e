"""`pip install tracklog` is the SDK without database drivers: its modules import none of
the server dependencies, and pyproject.toml's layer contracts name every SDK module."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = ("psycopg", "psycopg_pool", "clickhouse_connect", "fastavro", "prometheus_client")

# Import every SDK module with the server-only packages made unimportable, then use the
# SDK: a session that spools to disk (no broker needed) and a client object.
_PROBE = """
import importlib.abc, pkgutil, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is a server dependency")
        return None
sys.meta_path.insert(0, Block())
import tracklog
for name in {modules!r}:
    module = importlib.import_module(name)
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), name + "."):
        importlib.import_module(info.name)
for public in tracklog.__all__:
    getattr(tracklog, public)
client = tracklog.TracklogClient("127.0.0.1:1")
print("ok", sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED))
"""


def _sdk_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    leaf = next(c for c in contracts if c["name"].startswith("The SDK is a leaf"))
    return list(leaf["source_modules"])


def test_the_layer_contracts_name_every_sdk_module() -> None:
    on_disk = {
        f"tracklog.{path.stem if path.is_file() else path.name}"
        for path in (ROOT / "producer").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists() and path.name != "mlflow")
    }
    assert set(_sdk_modules()) == on_disk
    text = (ROOT / "pyproject.toml").read_text()
    # every contract that lists the SDK lists the same modules
    for block in re.findall(r"# SDK_MODULES\n((?:    \"[\w.]+\",\n)+)", text):
        listed = set(re.findall(r"\"([\w.]+)\"", block)) - {"tracklog.mlflow"}
        assert listed == on_disk


def test_core_dependencies_hold_no_server_driver() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    core = " ".join(config["project"]["dependencies"]).lower().replace("-", "_")
    assert not [name for name in SERVER_ONLY if name in core]
    server = " ".join(config["project"]["optional-dependencies"]["server"]).replace("-", "_")
    assert all(name.replace("_pool", "") in server for name in SERVER_ONLY)


def test_the_sdk_imports_and_runs_without_server_dependencies() -> None:
    probe = _PROBE.format(blocked=SERVER_ONLY, modules=_sdk_modules())
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok []")
