"""Where things are in a MOSAIQ checkout, readable without importing pandas (for fast commands
such as ``mosaiq info``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mosaiq.settings import read_yaml

BUILT = "built"
NOT_BUILT_ABSENT = "not built: raw input absent"
REPORT_PATH = Path("reports") / "validation.json"


def package_dir(root: Path, dataset: str) -> Path:
    return root / "datasets" / dataset


def read_descriptor(root: Path, dataset: str) -> dict[str, Any] | None:
    path = package_dir(root, dataset) / "datapackage.yaml"
    return read_yaml(path) if path.is_file() else None
