"""The catalogue of source datasets: facts from ``catalogue/sources.yaml`` beside counts measured
from the built packages (never typed in)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mosaiq.layout import BUILT, catalogue_facts, package_dir, read_descriptor
from mosaiq.package import table_to_csv, write_files_atomically, yaml_bytes
from mosaiq.settings import DATASETS, data_version, load_params, read_yaml

CATALOGUE_DIR = "catalogue"
SCHEMA = "schemas/datasets.schema.yaml"
DATA = "data/datasets.csv"
MEASURED = (
    "languages",
    "build_status",
    "n_clips",
    "n_responses",
    "n_participants",
    "n_excluded",
    "n_raw_rows",
)


def measured_counts(root: Path, dataset: str) -> dict[str, Any]:
    """What the built package of ``dataset`` holds (None where it is not built)."""
    out: dict[str, Any] = dict.fromkeys(MEASURED)
    descriptor = read_descriptor(root, dataset)
    if descriptor is None:
        out["build_status"] = "not built: no package"
        return out
    meta = descriptor.get("mosaiq", {})
    out["build_status"] = meta.get("build_status", "unknown")
    if out["build_status"] != BUILT:
        return out
    data = package_dir(root, dataset) / "data"
    if not all((data / f"{t}.csv").is_file() for t in ("clips", "responses", "exclusions")):
        return out  # a broken package: its own validation names the missing file
    responses = pd.read_csv(
        data / "responses.csv", usecols=["participant_id", "language"], dtype="string"
    )
    out["n_responses"] = len(responses)
    out["n_participants"] = int(responses["participant_id"].nunique())
    langs = sorted(responses["language"].dropna().unique())
    out["languages"] = ";".join(langs) if langs else None
    out["n_clips"] = _rows(data / "clips.csv")
    out["n_excluded"] = _rows(data / "exclusions.csv")
    out["n_raw_rows"] = meta.get("raw_rows")
    return out


def _rows(path: Path) -> int:
    return len(pd.read_csv(path, usecols=[0], dtype="string"))


def build_catalogue(root: Path) -> Path:
    facts = catalogue_facts(root)
    unknown = sorted(set(facts) - set(DATASETS))
    if unknown:
        raise ValueError(f"catalogue/sources.yaml: unknown datasets {unknown}")
    rows = []
    for ds in DATASETS:
        row = dict(facts[ds].items())
        row.update(measured_counts(root, ds))
        rows.append(row)
    base = root / CATALOGUE_DIR
    schema = read_yaml(base / SCHEMA)
    frame = pd.DataFrame(rows)
    text = ("summary", "citation", "licence_note", "literature_count_note")
    frame = frame.assign(**{k: frame[k].str.strip() for k in text})
    files = {
        base / DATA: table_to_csv(frame, schema, sort_by=["dataset_id"], table="catalogue"),
        base / "datapackage.yaml": yaml_bytes(_descriptor(data_version(load_params(root)))),
    }
    write_files_atomically(files)
    return base / DATA


def _descriptor(version: str) -> dict[str, Any]:
    return {
        "profile": "tabular-data-package",
        "name": "mosaiq-catalogue",
        "title": "MOSAIQ catalogue of source datasets",
        "version": version,
        "licenses": [{"name": "MIT", "path": "https://spdx.org/licenses/MIT.html"}],
        "resources": [
            {
                "name": "datasets",
                "path": DATA,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": SCHEMA,
            }
        ],
    }
