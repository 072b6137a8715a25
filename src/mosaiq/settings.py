"""Where the project is, and params.yaml read into plain settings with defaults in one place."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from mosaiq.errors import MosaiqError

DATASETS: tuple[str, ...] = ("ISD", "ARAUS", "SATP", "DeLTA")
"""The source datasets, in catalogue order."""

ROOT_ENV = "MOSAIQ_ROOT"


def find_root(start: str | Path | None = None) -> Path:
    """The MOSAIQ checkout: $MOSAIQ_ROOT, or the nearest parent of ``start`` (default: the
    working directory) holding both dvc.yaml and params.yaml."""
    if start is None and os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).resolve()
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dvc.yaml").is_file() and (candidate / "params.yaml").is_file():
            return candidate
    raise MosaiqError(
        f"{here} is not inside a MOSAIQ checkout (no dvc.yaml + params.yaml above it); "
        f"run from the repository or set {ROOT_ENV}"
    )


@cache
def _read_yaml(path: Path, mtime_ns: int) -> Any:
    import yaml

    # libyaml's parser where PyYAML was built with it (the same documents, ~10x faster)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as fh:
        try:
            return yaml.load(fh, Loader=loader)
        except yaml.YAMLError as exc:
            raise MosaiqError(f"{path}: not valid YAML: {exc}") from None


def read_yaml(path: Path) -> Any:
    """Parse a YAML file (cached on its modification time)."""
    return _read_yaml(path, path.stat().st_mtime_ns)


def load_params(root: Path) -> dict[str, Any]:
    path = root / "params.yaml"
    if not path.is_file():
        raise MosaiqError(f"{path}: params file not found")
    params = read_yaml(path) or {}
    if not isinstance(params, dict):
        raise MosaiqError(f"{path}: expected a mapping at the top level")
    return params


def param(params: dict[str, Any], dotted: str, default: Any = None) -> Any:
    """``param(p, "build.ISD.raw")``: a nested value, or ``default`` when any key is missing."""
    node: Any = params
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def data_version(params: dict[str, Any]) -> str:
    """The benchmark data version (params.yaml ``version``), written into every descriptor."""
    value = params.get("version")
    if not value:
        raise MosaiqError("params.yaml: 'version' (the benchmark data version) is missing")
    return str(value)
