"""Damaged packages: `mosaiq validate` reports each damage as an issue naming the file (and the row
and field where there is one), exits non-zero and still writes its report; it never crashes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import mosaiq
from mosaiq.cli import app
from mosaiq.features import cityseg
from mosaiq.features.store import ArrayStore, collect
from tests.conftest import set_params
from tests.test_validate import edit_csv

PKG = "datasets/ISD"


def _cut(rel: str, keep: float) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / PKG / rel
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return damage


def _descriptor(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / PKG / "datapackage.yaml"
        doc = yaml.safe_load(path.read_text())
        edit(doc)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))

    return damage


def _resource(name: str, **changes: str) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        for res in doc["resources"]:
            if res["name"] == name:
                res.update(changes)

    return edit


def _drop_resource(name: str) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        doc["resources"] = [r for r in doc["resources"] if r["name"] != name]

    return edit


def _edit_schema(root: Path) -> None:
    path = root / PKG / "schemas/responses.schema.yaml"
    schema = yaml.safe_load(path.read_text())
    for spec in schema["fields"]:
        if spec["name"] == "PAQ1_pleasant" or spec["name"] == "pleasant":
            spec["constraints"]["maximum"] = 500
    path.write_text(yaml.safe_dump(schema, sort_keys=False))


def _cell(table: str, row: int, field: str, value: str) -> Callable[[Path], None]:
    return lambda root: (edit_csv(root / PKG / f"data/{table}.csv", row, field, value), None)[1]


def _outside(root: Path) -> None:
    outside = root.parent / "elsewhere.csv"
    shutil.copy(root / PKG / "data/clips.csv", outside)
    (root / PKG / "data/clips.csv").unlink()
    (root / PKG / "data/clips.csv").symlink_to(outside)


CASES: dict[str, tuple[Callable[[Path], None], str, str, int | None, str | None]] = {
    # damage, issue code, file (ends with), row, field
    "empty-csv": (_cut("data/responses.csv", 0), "empty-file", "data/responses.csv", None, None),
    "truncated-csv": (
        _cut("data/responses.csv", 0.5),
        "missing-cell|row-accounting",
        "data/responses.csv",
        None,
        None,
    ),
    "absolute-path": (
        _descriptor(_resource("clips", path="/etc/passwd")),
        "unsafe-path",
        "datapackage.yaml",
        None,
        "resources.clips.path",
    ),
    "climbing-path": (
        _descriptor(_resource("clips", path="../../../etc/passwd")),
        "unsafe-path",
        "datapackage.yaml",
        None,
        "resources.clips.path",
    ),
    "climbing-schema": (
        _descriptor(_resource("responses", schema="../ARAUS/schemas/responses.schema.yaml")),
        "unsafe-path",
        "datapackage.yaml",
        None,
        "resources.responses.schema",
    ),
    "symlink-out": (_outside, "unsafe-path", "datapackage.yaml", None, "resources.clips.path"),
    "resource-missing": (
        _descriptor(_drop_resource("exclusions")),
        "missing-resource",
        "datapackage.yaml",
        None,
        "resources",
    ),
    "descriptor-not-yaml": (
        lambda root: (root / PKG / "datapackage.yaml").write_text("resources: [unclosed\n"),
        "unreadable-descriptor",
        "datapackage.yaml",
        None,
        None,
    ),
    "descriptor-wrong-shape": (
        lambda root: (root / PKG / "datapackage.yaml").write_text("resources: 3\n"),
        "unreadable-descriptor",
        "datapackage.yaml",
        None,
        "resources",
    ),
    "schema-edited": (
        _edit_schema,
        "schema-edited",
        "schemas/responses.schema.yaml",
        None,
        "fields.PAQ1_pleasant.constraints.maximum",
    ),
    "email-in-text": (
        _cell("responses", 3, "survey_version", "ask jane.doe@example.org"),
        "personal-data",
        "data/responses.csv",
        3,
        "survey_version",
    ),
    "phone-in-text": (
        _cell("responses", 4, "survey_version", "call +44 20 7946 0958"),
        "personal-data",
        "data/responses.csv",
        4,
        "survey_version",
    ),
    "coordinates-in-text": (
        _cell("responses", 5, "survey_version", "met at 51.52446, -0.13404"),
        "personal-data",
        "data/responses.csv",
        5,
        "survey_version",
    ),
}


def _validate(root: Path) -> tuple[int, dict, str, Path]:
    report = root / "reports" / "damaged.json"
    result = CliRunner().invoke(
        app, ["validate", "--report", str(report), "-d", "ISD", "--root", str(root)]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and "Aborted" not in result.output, result.output
    data = json.loads(report.read_text()) if report.is_file() else {}
    return result.exit_code, data, result.output, report


def _find(data: dict, code: str, file: str, row: int | None, field: str | None) -> dict:
    errors = data["packages"]["ISD"]["errors"]
    hits = [
        e
        for e in errors
        if pd.Series([e["code"]]).str.fullmatch(code).iloc[0] and e["file"].endswith(file)
    ]
    assert hits, f"no {code} issue on {file}: {errors[:5]}"
    hit = hits[0]
    assert row is None or hit["row"] == row, hit
    assert field is None or hit["field"] == field, hit
    return hit


@pytest.fixture
def copy(built_isd: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(built_isd, root, symlinks=True)
    return root


@pytest.mark.parametrize("name", list(CASES))
def test_damaged_package_is_reported_not_raised(copy: Path, name: str) -> None:
    damage, code, file, row, field = CASES[name]
    damage(copy)
    exit_code, data, output, report = _validate(copy)
    assert exit_code == 1, output
    assert data and data["valid"] is False
    _find(data, code, file, row, field)
    assert str(report) in output


@pytest.fixture
def with_features(copy: Path, tmp_path: Path) -> Path:
    """The copy with real segmentation summaries and one array shard record."""
    masks = tmp_path / "masks"
    clips = mosaiq.load("ISD", "clips", root=copy)["clip_id"].head(2).tolist()
    for cid in clips:
        (masks / cid).mkdir(parents=True)
        np.save(masks / cid / "f000.npy", np.full((6, 6), 10, np.uint8))
    set_params(copy, lambda p: p["cityseg"]["masks_root"].update(ISD=str(masks)))
    cityseg.run(copy, "ISD")
    collect(copy, "ISD")
    path = copy / PKG / "data/features.csv"
    records = pd.read_csv(path, dtype=str, keep_default_na=False)
    located = ArrayStore(copy / PKG, "demo", "shards", "float32").put_values(
        [clips[0]], [np.ones(4, np.float32) / 2]
    )[0]
    shard = records.iloc[[0]].copy()
    shard["feature_id"] = shard["feature_id"] + "-shard"
    shard["feature_value_json"] = ""
    for key, value in located.items():
        shard[key] = str(value)
    pd.concat([records, shard]).to_csv(path, index=False, lineterminator="\n")
    exit_code, _data, output, _ = _validate(copy)
    assert exit_code == 0, output
    return copy


def _shard(root: Path) -> Path:
    return next((root / PKG / "features/demo").glob("shard-*.npy"))


FEATURE_CASES: dict[str, tuple[Callable[[Path], None], str, int | None, str | None]] = {
    "empty-shard": (lambda r: _shard(r).write_bytes(b""), "feature-unreadable", 4, "feature_path"),
    "truncated-shard": (
        lambda r: _shard(r).write_bytes(_shard(r).read_bytes()[:100]),
        "feature-unreadable",
        4,
        "feature_path",
    ),
    "torn-features": (_cut("data/features.csv", 0.8), "missing-cell|row-accounting", None, None),
    "summary-not-object": (
        lambda r: edit_csv(r / PKG / "data/features.csv", 2, "feature_value_json", "[1, 2]"),
        "feature-json",
        2,
        "feature_value_json",
    ),
    "summary-ratios-text": (
        lambda r: edit_csv(
            r / PKG / "data/features.csv",
            3,
            "feature_value_json",
            json.dumps({"group_ratios": {"natural": "lots"}}),
        ),
        "feature-json",
        3,
        "feature_value_json",
    ),
}


@pytest.mark.parametrize("name", list(FEATURE_CASES))
def test_damaged_features_are_reported_not_raised(with_features: Path, name: str) -> None:
    damage, code, row, field = FEATURE_CASES[name]
    damage(with_features)
    exit_code, data, output, _ = _validate(with_features)
    assert exit_code == 1, output
    _find(data, code, "data/features.csv", row, field)
