"""Run mypy over the `tracklog` package as it is installed (see package_tree.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from package_tree import ROOT, installed_tree


def main() -> int:
    with installed_tree() as tree:
        cmd = [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            str(tree / "tracklog"),
            str(ROOT / "tests"),
            str(ROOT / "proto" / "generate.py"),
            *sys.argv[1:],
        ]
        env = {**os.environ, "MYPYPATH": str(tree)}
        return subprocess.call(cmd, cwd=tree, env=env)


if __name__ == "__main__":
    sys.exit(main())
