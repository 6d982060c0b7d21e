"""Serializers behind log_text, log_dict and log_figure: content -> a local file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_text(text: str, target: Path) -> None:
    target.write_text(text, encoding="utf-8")


def write_dict(dictionary: Any, target: Path) -> None:
    """JSON, or YAML when the name ends in .yaml/.yml and PyYAML is importable."""
    if target.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            pass
        else:
            with target.open("w", encoding="utf-8") as out:
                yaml.safe_dump(dictionary, out, default_flow_style=False, sort_keys=False)
            return
    with target.open("w", encoding="utf-8") as out:
        json.dump(dictionary, out, indent=2)


def write_figure(figure: Any, target: Path) -> None:
    """A matplotlib Figure, saved in the format the file name's extension names."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("log_figure needs matplotlib: pip install matplotlib") from exc
    if not isinstance(figure, Figure):
        raise TypeError(f"log_figure takes a matplotlib Figure, got {type(figure).__name__}")
    figure.savefig(target)
