"""Where things are in a MOSAIQ checkout, and what a file holds (its digest), readable without
importing pandas (for fast commands such as ``mosaiq info``)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from mosaiq.errors import MosaiqError
from mosaiq.settings import read_yaml

BUILT = "built"
NOT_BUILT_ABSENT = "not built: raw input absent"
REPORT_PATH = Path("reports") / "validation.json"


def package_dir(root: Path, dataset: str) -> Path:
    return root / "datasets" / dataset


def read_descriptor(root: Path, dataset: str) -> dict[str, Any] | None:
    path = package_dir(root, dataset) / "datapackage.yaml"
    return read_yaml(path) if path.is_file() else None


def require_descriptor(root: Path, dataset: str) -> dict[str, Any]:
    """The package descriptor of ``dataset``; an error saying how to build it when absent."""
    descriptor = read_descriptor(root, dataset)
    if descriptor is None:
        raise MosaiqError(
            f"datasets/{dataset}/datapackage.yaml not found; run `mosaiq build {dataset}` first"
        )
    return descriptor


def catalogue_facts(root: Path) -> dict[str, dict[str, Any]]:
    """The typed-in facts of every source (``catalogue/sources.yaml``), by dataset id."""
    data = read_yaml(root / "catalogue" / "sources.yaml")
    return {row["dataset_id"]: row for row in data["datasets"]}


def relative_path(root: Path, path: Path) -> str:
    """``path`` as written in reports and manifests: relative to the checkout when inside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (``md5``, ``sha1``, ``sha256``, ``sha512``), read in chunks."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, algorithm).hexdigest()


def how_to_get(dataset: str) -> str:
    """One sentence: how to get a dataset that is not built here."""
    return (
        f"build it from your own download: `mosaiq fetch {dataset}` (or put the files in "
        f"datasets/{dataset}/raw/, see the README there), then `dvc repro`; or, if you pushed "
        f"it to a private DVC remote, `mosaiq pull -d {dataset} -r NAME`"
    )
