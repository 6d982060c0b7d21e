"""The `tracklog` package as it is installed, laid out as a tree of symlinks.

The repository keeps one folder per concern (producer/, ingest/, ...) and
pyproject.toml maps them under the `tracklog` import package. Tools that walk the
file system (mypy, import-linter) cannot follow that mapping, so `installed_tree`
builds a temporary directory shaped like the installed package (read from
[tool.setuptools] package-dir) for them to read.
"""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def installed_tree() -> Iterator[Path]:
    """A temporary directory holding `tracklog/` as installed; removed on exit."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    with tempfile.TemporaryDirectory(prefix="tracklog-tree-") as tmp:
        for package, folder in mapping.items():
            target = Path(tmp, *package.split("."))
            target.mkdir(parents=True, exist_ok=True)
            for source in (ROOT / folder).iterdir():
                is_package = (source / "__init__.py").exists()
                if source.suffix in (".py", ".pyi") or source.name == "py.typed":
                    (target / source.name).symlink_to(source)
                elif is_package and f"{package}.{source.name}" not in mapping:
                    (target / source.name).symlink_to(source, target_is_directory=True)
        yield Path(tmp)
