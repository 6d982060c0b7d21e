"""Check the import layers (the import-linter contracts in pyproject.toml) over the
`tracklog` package as it is installed (see package_tree.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from package_tree import ROOT, installed_tree


def main() -> int:
    with installed_tree() as tree:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        lint = [str(Path(sys.executable).parent / "lint-imports"), "--no-logo", "--no-cache"]
        lint.append(str(ROOT / "pyproject.toml"))
        return subprocess.call([*lint, *sys.argv[1:]], cwd=tree, env=env)


if __name__ == "__main__":
    sys.exit(main())
