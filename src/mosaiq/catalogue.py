"""The catalogue of soundscape datasets: facts from ``catalogue/sources.yaml`` beside counts
measured from the built packages (never typed in).

Every record of ``sources.yaml`` is a row. The datasets MOSAIQ packages get their measured counts
and build status; the others are catalogue-only rows. Each record's ``provenance`` (its inventory
row, whether it was checked, the values corrected and why) is flattened into the ``provenance``,
``checked``, ``corrections`` and ``check_note`` columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mosaiq.layout import BUILT, catalogue_facts, package_dir, read_descriptor
from mosaiq.package import table_to_csv, write_files_atomically, yaml_bytes
from mosaiq.schema import field_names
from mosaiq.settings import DATASETS, data_version, load_params, read_yaml

CATALOGUE_DIR = "catalogue"
SCHEMA = "schemas/datasets.schema.yaml"
DATA = "data/datasets.csv"
CATALOGUE_ONLY = "catalogue only: no MOSAIQ package"
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
    """What the built package of ``dataset`` holds (None where it is not built or where MOSAIQ
    has no package for it)."""
    out: dict[str, Any] = dict.fromkeys(MEASURED)
    if dataset not in DATASETS:
        out["build_status"] = CATALOGUE_ONLY
        return out
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


def provenance_columns(dataset: str, provenance: dict[str, Any]) -> dict[str, Any]:
    """A record's ``provenance`` mapping as the catalogue's four provenance columns."""
    if provenance.get("source") != "inventory" or not isinstance(
        provenance.get("inventory_row"), int
    ):
        raise ValueError(
            f"catalogue/sources.yaml: {dataset}: provenance needs source: inventory and an "
            "integer inventory_row"
        )
    checked = bool(provenance.get("checked", False))
    corrections = provenance.get("corrections") or []
    text = (
        f"literature inventory of the original MOSAIQ catalogue, row {provenance['inventory_row']}"
    )
    text += "; checked by MOSAIQ" if checked else "; not checked by MOSAIQ"
    return {
        "provenance": text,
        "checked": checked,
        "corrections": " | ".join(
            f"{c['field']}: {_show(c.get('inventory'))} -> {' '.join(str(c['reason']).split())}"
            for c in corrections
        )
        or None,
        "check_note": provenance.get("check_note"),
    }


def _show(value: Any) -> str:
    return "(empty)" if value is None else repr(value) if isinstance(value, str) else str(value)


def build_catalogue(root: Path) -> Path:
    facts = catalogue_facts(root)
    missing = sorted(set(DATASETS) - set(facts))
    if missing:
        raise ValueError(f"catalogue/sources.yaml: no record for the packaged datasets {missing}")
    rows = []
    for ds, record in facts.items():
        row = {k: v for k, v in record.items() if k != "provenance"}
        row.update(provenance_columns(ds, record.get("provenance") or {}))
        row.update(measured_counts(root, ds))
        rows.append(row)
    base = root / CATALOGUE_DIR
    schema = read_yaml(base / SCHEMA)
    frame = pd.DataFrame(rows)
    for name in field_names(schema):
        if name not in frame:
            frame[name] = None  # a fact no record states
    text = [f["name"] for f in schema["fields"] if f.get("type", "string") == "string"]
    frame = frame.assign(
        **{
            k: frame[k].map(lambda v: " ".join(v.split()) if isinstance(v, str) else v)
            for k in text
        }
    )
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
        "title": "MOSAIQ catalogue of soundscape datasets",
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
