"""The vectorised table checks find what Frictionless finds: same file, row, field and code.

Each test plants one class of defect in a copy of the built ISD package, then runs Frictionless
(the reference) and :mod:`mosaiq.tablecheck` on the edited table and compares their findings.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from mosaiq.tablecheck import check_package


@pytest.fixture
def pkg(built_isd: Path, tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(built_isd, root)
    return root / "datasets" / "ISD"


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def set_cell(path: Path, row: int, field: str, value: str) -> None:
    """Set one cell (row as Frictionless numbers it: header = 1); cells here carry no quotes."""
    text = lines(path)
    col = text[0].split(",").index(field)
    cells = text[row - 1].split(",")
    cells[col] = value
    text[row - 1] = ",".join(cells)
    path.write_text("\n".join(text), encoding="utf-8")


def edit_line(path: Path, row: int, new: str, *, insert: bool = False) -> None:
    text = lines(path)
    if insert:
        text.insert(row - 1, new)
    else:
        text[row - 1] = new
    path.write_text("\n".join(text), encoding="utf-8")


def frictionless_found(pkg: Path, name: str) -> set[tuple[str, int | None, str | None]]:
    from frictionless import Package

    resource = Package(str(pkg / "datapackage.yaml")).get_resource(name)
    report = resource.validate()
    key = ", ".join(resource.schema.primary_key)
    found = set()
    for task in report.tasks:
        for err in task.errors:
            field = getattr(err, "field_name", None)
            if err.type == "foreign-key":
                field = ", ".join(err.field_names)
            elif err.type == "primary-key":
                field = key
            found.add((err.type, getattr(err, "row_number", None), field))
    assert not report.errors, report.errors
    return found


def ours_found(pkg: Path, name: str) -> set[tuple[str, int | None, str | None]]:
    checked = check_package(pkg / "datapackage.yaml")
    return {(p.code, p.row, p.field) for p in checked[name].problems}


def both(pkg: Path, name: str) -> set[tuple[str, int | None, str | None]]:
    reference = frictionless_found(pkg, name)
    assert reference == ours_found(pkg, name)
    return reference


def test_the_built_package_is_clean_for_both(pkg):
    for name in ("clips", "responses", "clip_languages", "exclusions", "features"):
        assert both(pkg, name) == set()


def test_bad_type(pkg):
    set_cell(pkg / "data/clips.csv", 5, "mean_PAQ1_pleasant", "abc")
    set_cell(pkg / "data/responses.csv", 9, "traffic_noise", "2.5")
    set_cell(pkg / "data/responses.csv", 10, "paq_complete", "yes")
    assert both(pkg, "clips") == {("type-error", 5, "mean_PAQ1_pleasant")}
    assert both(pkg, "responses") == {
        ("type-error", 9, "traffic_noise"),
        ("type-error", 10, "paq_complete"),
    }


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param([(4, "PAQ3_eventful", "7"), (6, "traffic_noise", "0")], id="out_of_range"),
        pytest.param([(3, "gender", "other"), (8, "language", "english")], id="enum_and_pattern"),
    ],
)
def test_constraint_errors(pkg, cells):
    for row, field, value in cells:
        set_cell(pkg / "data/responses.csv", row, field, value)
    assert both(pkg, "responses") == {("constraint-error", row, field) for row, field, _ in cells}


def test_missing_required(pkg):
    set_cell(pkg / "data/responses.csv", 12, "participant_id", "")
    assert both(pkg, "responses") == {("constraint-error", 12, "participant_id")}


def test_duplicate_key(pkg):
    first = lines(pkg / "data/responses.csv")[1].split(",")[0]
    set_cell(pkg / "data/responses.csv", 20, "response_id", first)
    found = both(pkg, "responses")
    assert ("primary-key", 20, "response_id") in found
    assert ("unique-error", 20, "response_id") in found


def test_dangling_foreign_key(pkg):
    set_cell(pkg / "data/responses.csv", 7, "clip_id", "ISD_nowhere_x_y")
    assert both(pkg, "responses") == {("foreign-key", 7, "clip_id")}


def test_blank_row(pkg):
    width = len(lines(pkg / "data/responses.csv")[0].split(","))
    edit_line(pkg / "data/responses.csv", 15, "," * (width - 1), insert=True)
    edit_line(pkg / "data/responses.csv", 30, "", insert=True)  # an empty line
    found = both(pkg, "responses")
    assert ("blank-row", 15, None) in found
    assert ("blank-row", 30, None) in found


def test_row_width(pkg):
    path = pkg / "data/responses.csv"
    text = lines(path)
    edit_line(path, 5, text[4] + ",surplus")
    edit_line(path, 9, text[8].rsplit(",", 3)[0])
    found = both(pkg, "responses")
    assert ("extra-cell", 5, "") in found
    assert {("missing-cell", 9, f) for f in ("source_row", "source_flags")} <= found


def test_bad_header_stops_the_table(pkg):
    path = pkg / "data/clips.csv"
    text = lines(path)
    edit_line(path, 1, text[0].replace("dataset_id", "dataset"))
    found = ours_found(pkg, "clips")
    assert found == {("incorrect-label", None, "dataset_id")}


def test_a_valid_table_comes_back_typed_as_read_table(pkg):
    from mosaiq.package import read_table

    checked = check_package(pkg / "datapackage.yaml")
    for name in ("clips", "responses"):
        schema = yaml.safe_load((pkg / f"schemas/{name}.schema.yaml").read_text())
        expected = read_table(pkg / f"data/{name}.csv", schema)
        assert checked[name].table is not None
        assert list(checked[name].table.dtypes) == list(expected.dtypes)
        assert checked[name].table.equals(expected) or (checked[name].table.compare(expected).empty)


def test_every_package_passes_plain_frictionless_validate(built_all):
    from tests.conftest import run

    for descriptor in [
        *sorted(built_all.glob("datasets/*/datapackage.yaml")),
        built_all / "catalogue" / "datapackage.yaml",
    ]:
        proc = run(["frictionless", "validate", descriptor.name], cwd=descriptor.parent)
        assert "VALID" in proc.stdout.upper(), proc.stdout
        checked = check_package(descriptor)
        assert all(not c.problems for c in checked.values()), descriptor
