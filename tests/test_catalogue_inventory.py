"""catalogue/sources.yaml against the literature inventory it was transcribed from.

The inventory (``../shared/data/catalogue/inventory.csv``) is not part of the repository: the
project keeps its own curated records in ``catalogue/sources.yaml``. This test reads the inventory
where it is available and asserts that the records differ from it exactly by the corrections
they document (field, inventory value, reason), no more and no fewer.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import yaml

from mosaiq.settings import DATASETS

REPO = Path(__file__).resolve().parents[1]

# inventory column -> catalogue field (every other column keeps its name)
RENAMED = {
    "dataset_name": "title",
    "link": "url",
    "licence_spdx": "licence",
    "n_audio_samples": "literature_n_clips",
    "n_participants": "literature_n_participants",
    "n_assessments": "literature_n_responses",
    "total_duration_min": "literature_total_duration_min",
}


def _records() -> list[dict[str, Any]]:
    return yaml.safe_load((REPO / "catalogue/sources.yaml").read_text())["datasets"]


def _types() -> dict[str, str]:
    schema = yaml.safe_load((REPO / "catalogue/schemas/datasets.schema.yaml").read_text())
    return {f["name"]: f.get("type", "string") for f in schema["fields"]}


def _parse(text: str, kind: str) -> Any:
    """An inventory cell typed as the catalogue schema types its field ('' is no value)."""
    if text == "":
        return None
    if kind == "integer":
        number = float(text)
        assert number == int(number), text
        return int(number)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        return {"True": True, "False": False}[text]
    return text


def _inventory(shared_data: Path) -> tuple[list[str], list[dict[str, str]]]:
    with (shared_data / "catalogue/inventory.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def differences(shared_data: Path) -> tuple[set[tuple], set[tuple]]:
    """(found, documented): sets of (dataset_id, field, inventory value)."""
    columns, rows = _inventory(shared_data)
    types = _types()
    found, documented = set(), set()
    for record in _records():
        prov = record["provenance"]
        inv = rows[prov["inventory_row"] - 1]
        for column in columns:
            field = RENAMED.get(column, column)
            assert field in types, f"inventory column {column} has no catalogue field"
            expected = _parse(inv[column], types[field])
            if record.get(field) != expected:
                found.add((record["dataset_id"], field, expected))
        for c in prov.get("corrections") or []:
            documented.add((record["dataset_id"], c["field"], c["inventory"]))
    return found, documented


def test_every_inventory_row_is_one_catalogue_record(shared_data):
    _, rows = _inventory(shared_data)
    records = _records()
    assert sorted(r["provenance"]["inventory_row"] for r in records) == list(
        range(1, len(rows) + 1)
    )
    assert len({r["dataset_id"] for r in records}) == len(rows) == 20
    assert set(DATASETS) <= {r["dataset_id"] for r in records}


def test_records_differ_from_the_inventory_exactly_by_the_documented_corrections(shared_data):
    found, documented = differences(shared_data)
    undocumented = sorted(found - documented, key=str)
    stale = sorted(documented - found, key=str)
    report = "\n".join(
        f"  {ds}.{field}: inventory {value!r}" for ds, field, value in sorted(found, key=str)
    )
    print(f"{len(found)} corrections of the inventory:\n{report}")
    assert not undocumented, (
        f"values that differ from the inventory without a correction: {undocumented}"
    )
    assert not stale, f"corrections whose field no longer differs from the inventory: {stale}"


def test_corrections_only_where_checked_or_for_unconfirmed_licences(shared_data):
    """Unchecked records keep the inventory's claims; only "Unknown" licences become
    "to confirm" there (and a text-extraction artefact is repaired)."""
    found, _ = differences(shared_data)
    checked = {r["dataset_id"] for r in _records() if r["provenance"]["checked"]}
    assert checked == set(DATASETS)
    for ds, field, value in found:
        if ds in checked:
            continue
        assert (field, value) in {("licence", "Unknown"), ("description", value)}, (ds, field)
    unknown = [(ds, f) for ds, f, v in found if f == "licence" and v == "Unknown"]
    assert len(unknown) == 18
    assert all(r["licence"] != "Unknown" for r in _records())
