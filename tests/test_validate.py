"""Every kind of defect, planted in a valid package, is reported with its file, row and field."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import yaml

from mosaiq.validate import validate_all, write_report


@pytest.fixture
def pkg(built_isd: Path, tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(built_isd, root)
    return root


def edit_csv(path: Path, row: int, field: str, value: str) -> str:
    """Set one cell (row as a spreadsheet shows it); returns the old value."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index(field)
    old = rows[row - 1][col]
    rows[row - 1][col] = value
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return old


def errors_of(root: Path, code: str | None = None):
    report = validate_all(root, ["ISD"])
    errs = [e for p in report.packages for e in p.errors]
    return report, [e for e in errs if code is None or e.code == code]


def test_the_built_package_is_valid(built_isd):
    report = validate_all(built_isd, ["ISD"])
    assert report.valid, [str(e) for p in report.packages for e in p.errors]


def test_bad_type(pkg):
    edit_csv(pkg / "datasets/ISD/data/clips.csv", 5, "mean_PAQ1_pleasant", "abc")
    report, errs = errors_of(pkg, "type-error")
    assert not report.valid
    (e,) = errs
    assert (e.file, e.row, e.field) == ("datasets/ISD/data/clips.csv", 5, "mean_PAQ1_pleasant")
    assert "abc" in str(e)
    assert "row 5" in str(e)


def test_out_of_range_rating(pkg):
    edit_csv(pkg / "datasets/ISD/data/responses.csv", 10, "PAQ3_eventful", "7.0")
    _, errs = errors_of(pkg, "constraint-error")
    assert [(e.file, e.row, e.field) for e in errs] == [
        ("datasets/ISD/data/responses.csv", 10, "PAQ3_eventful")
    ]
    assert "maximum" in errs[0].message


def test_duplicate_key(pkg):
    path = pkg / "datasets/ISD/data/responses.csv"
    with path.open(newline="") as fh:
        first_id = list(csv.reader(fh))[1][0]
    edit_csv(path, 3, "response_id", first_id)
    _, errs = errors_of(pkg)
    keys = [e for e in errs if e.code in ("primary-key", "unique-error")]
    assert keys
    assert all(e.file == "datasets/ISD/data/responses.csv" and e.row == 3 for e in keys)


def test_dangling_foreign_key(pkg):
    edit_csv(pkg / "datasets/ISD/data/responses.csv", 7, "clip_id", "ISD_nowhere_x_y")
    _, errs = errors_of(pkg, "foreign-key")
    (e,) = errs
    assert (e.file, e.row) == ("datasets/ISD/data/responses.csv", 7)
    assert "ISD_nowhere_x_y" in e.message


def test_iso_mismatch(pkg):
    path = pkg / "datasets/ISD/data/responses.csv"
    old = edit_csv(path, 12, "ISOPleasant", "0.123")
    _, errs = errors_of(pkg, "iso-mismatch")
    (e,) = errs
    assert (e.file, e.row, e.field) == ("datasets/ISD/data/responses.csv", 12, "ISOPleasant")
    assert "0.123" in e.message
    assert f"{float(old):.10g}"[:6] in e.message


def test_language_angle_mismatch_is_found_too(pkg):
    edit_csv(pkg / "datasets/ISD/data/responses.csv", 4, "angle_set", "ita")
    _, errs = errors_of(pkg, "iso-mismatch")
    assert [(e.row, e.field) for e in errs] == [(4, "angle_set")]


def test_clip_mean_and_count_mismatch(pkg):
    path = pkg / "datasets/ISD/data/clips.csv"
    edit_csv(path, 20, "n_responses", "9")
    edit_csv(path, 21, "mean_ISOEventful", "0.5")
    _, errs = errors_of(pkg, "clip-mismatch")
    assert {(e.row, e.field) for e in errs} == {(20, "n_responses"), (21, "mean_ISOEventful")}
    assert all(e.file == "datasets/ISD/data/clips.csv" for e in errs)


def test_missing_file(pkg):
    (pkg / "datasets/ISD/data/exclusions.csv").unlink()
    report, errs = errors_of(pkg, "missing-file")
    assert not report.valid
    assert [e.file for e in errs] == ["datasets/ISD/data/exclusions.csv"]


def test_personal_data_column(pkg):
    path = pkg / "datasets/ISD/data/responses.csv"
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    rows[0].append("age00")
    for r in rows[1:]:
        r.append("33")
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    schema_path = pkg / "datasets/ISD/schemas/responses.schema.yaml"
    schema = yaml.safe_load(schema_path.read_text())
    schema["fields"].append({"name": "age00", "type": "integer"})
    schema_path.write_text(yaml.safe_dump(schema))
    _, errs = errors_of(pkg, "personal-data")
    assert [(e.file, e.field) for e in errs] == [("datasets/ISD/data/responses.csv", "age00")]


def test_row_accounting(pkg):
    path = pkg / "datasets/ISD/data/exclusions.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))
    _, errs = errors_of(pkg, "row-accounting")
    assert any("raw source has 3589" in e.message for e in errs)


def test_catalogue_counts_must_match_the_packages(pkg):
    edit_csv(pkg / "catalogue/data/datasets.csv", 4, "n_clips", "12")
    report = validate_all(pkg, ["ISD"])
    cat = next(p for p in report.packages if p.name == "catalogue")
    (e,) = cat.errors
    assert (e.code, e.file, e.row, e.field) == (
        "catalogue-mismatch",
        "catalogue/data/datasets.csv",
        4,
        "n_clips",
    )


def test_report_is_deterministic_json(pkg):
    report = validate_all(pkg)
    first = write_report(pkg, report).read_bytes()
    second = write_report(pkg, validate_all(pkg)).read_bytes()
    assert first == second
    data = json.loads(first)
    assert data["valid"] is True
    assert data["packages"]["ISD"]["rows"]["responses"] == 3476
    assert data["packages"]["ARAUS"]["status"] == "not built"


@pytest.fixture
def all_pkg(built_all: Path, tmp_path: Path) -> Path:
    root = tmp_path / "all"
    shutil.copytree(built_all, root)
    return root


def test_all_four_packages_and_the_catalogue_validate(built_all):
    report = validate_all(built_all)
    assert report.valid, [str(e) for p in report.packages for e in p.errors][:5]
    assert {p.name: p.status for p in report.packages} == {
        "ISD": "valid",
        "ARAUS": "valid",
        "SATP": "valid",
        "DeLTA": "valid",
        "catalogue": "valid",
    }


def test_clip_language_means_and_harmonised_ratings_are_checked(all_pkg):
    edit_csv(all_pkg / "datasets/SATP/data/clip_languages.csv", 30, "mean_PAQ4_chaotic", "12")
    edit_csv(all_pkg / "datasets/SATP/data/responses.csv", 40, "PAQ2_vibrant_1to5", "4.5")
    report = validate_all(all_pkg, ["SATP"])
    errs = {(e.code, e.file, e.row, e.field) for p in report.packages for e in p.errors}
    assert (
        "clip-mismatch",
        "datasets/SATP/data/clip_languages.csv",
        30,
        "mean_PAQ4_chaotic",
    ) in errs
    assert ("iso-mismatch", "datasets/SATP/data/responses.csv", 40, "PAQ2_vibrant_1to5") in errs


def test_delta_clip_aggregates_are_checked(all_pkg):
    edit_csv(all_pkg / "datasets/DeLTA/data/clips.csv", 7, "mean_src_speech", "0.9")
    report = validate_all(all_pkg, ["DeLTA"])
    (e,) = [e for p in report.packages for e in p.errors]
    assert (e.code, e.row, e.field) == ("clip-mismatch", 7, "mean_src_speech")
