"""Run mypy over the `tracklog` package as it is installed.

The repository keeps one folder per concern (producer/, ingest/, ...) and
pyproject.toml maps them under the `tracklog` import package. mypy cannot follow
that mapping, so this script lays out a tree of symlinks shaped like the
installed package (read from [tool.setuptools] package-dir) and checks it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    with tempfile.TemporaryDirectory(prefix="tracklog-mypy-") as tmp:
        for package, folder in mapping.items():
            target = Path(tmp, *package.split("."))
            target.mkdir(parents=True, exist_ok=True)
            for source in (ROOT / folder).iterdir():
                if source.suffix in (".py", ".pyi") or source.name == "py.typed":
                    (target / source.name).symlink_to(source)
        cmd = [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            str(Path(tmp, "tracklog")),
            str(ROOT / "tests"),
            str(ROOT / "proto" / "generate.py"),
            *sys.argv[1:],
        ]
        env = {**os.environ, "MYPYPATH": tmp}
        return subprocess.call(cmd, cwd=tmp, env=env)


if __name__ == "__main__":
    sys.exit(main())
