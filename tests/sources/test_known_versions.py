"""Raw files checked against their known versions: a file cut short or of an unknown version is
refused (naming the file, what was expected and what was found) unless params.yaml declares its
sha256; the real tables at hand build."""

from __future__ import annotations

from pathlib import Path

import pytest

from mosaiq.build import build_dataset
from mosaiq.errors import InputError
from mosaiq.layout import file_digest
from mosaiq.sources import source
from tests.conftest import SHARED_FILES, point_at_shared_data, set_params


def _truncated_copy(shared: Path, rel: str, project: Path, keep: int) -> Path:
    """The shared table cut after ``keep`` data rows, at a row boundary (an interrupted copy)."""
    lines = (shared / rel).read_bytes().splitlines(keepends=True)
    raw = project / "datasets" / "raw-cut"
    raw.mkdir(parents=True, exist_ok=True)
    path = raw / Path(rel).name
    path.write_bytes(b"".join(lines[: keep + 1]))
    return path


def _known_rows(dataset: str, key: str) -> int:
    [raw] = [r for r in source(dataset).raw_files if r.key == key]
    assert raw.rows, f"{dataset} {key} declares no known row count"
    return min(raw.rows)


@pytest.mark.parametrize(
    ("dataset", "key"),
    [("ARAUS", "responses"), ("SATP", "responses"), ("DeLTA", "survey"), ("DeLTA", "collapsed")],
)
def test_a_file_cut_short_is_refused(project, shared_data, dataset, key):
    point_at_shared_data(project, shared_data, datasets=(dataset,))
    known = _known_rows(dataset, key)
    cut = _truncated_copy(shared_data, SHARED_FILES[dataset][key], project, known // 2)
    set_params(project, lambda p: p["build"][dataset].update({key: str(cut)}))
    with pytest.raises(InputError) as exc:
        build_dataset(project, dataset)
    message = str(exc.value)
    assert cut.name in message
    assert f"{known // 2:,} data rows, fewer than the {known:,}" in message
    assert "cut short" in message
    assert f"build.{dataset}.sha256" in message and file_digest(cut) in message
    assert not (project / "datasets" / dataset / "datapackage.yaml").exists()


def test_another_row_count_is_refused_and_a_declared_hash_accepts_it(project, shared_data):
    """One row more than the known count is no known version; declaring its sha256 (as a whole
    or for that file) builds it, and a declared hash that does not match is refused."""
    point_at_shared_data(project, shared_data, datasets=("SATP",))
    rel = SHARED_FILES["SATP"]["responses"]
    lines = (shared_data / rel).read_bytes().splitlines(keepends=True)
    other = project / "datasets" / "SATP" / "raw" / "other.csv"
    other.parent.mkdir(parents=True, exist_ok=True)
    other.write_bytes(b"".join(lines[:-1]))  # a version with one row fewer ...
    shorter = file_digest(other)
    known = _known_rows("SATP", "responses")
    set_params(project, lambda p: p["build"]["SATP"].update(responses=str(other)))
    with pytest.raises(InputError, match=rf"{known - 1:,} data rows, fewer than the {known:,}"):
        build_dataset(project, "SATP")

    set_params(project, lambda p: p["build"]["SATP"].update(sha256=shorter))
    assert build_dataset(project, "SATP").status == "built"
    described = (project / "datasets" / "SATP" / "datapackage.yaml").read_text()
    assert shorter in described

    set_params(project, lambda p: p["build"]["SATP"].update(sha256={"responses": "0" * 64}))
    with pytest.raises(InputError, match=r"not a hash declared in params\.yaml") as exc:
        build_dataset(project, "SATP")
    assert shorter in str(exc.value) and other.name in str(exc.value)


def test_per_file_declared_hash(project, shared_data):
    """DeLTA's two files: a hash declared for one file leaves the other checked by its count."""
    point_at_shared_data(project, shared_data, datasets=("DeLTA",))
    rel = SHARED_FILES["DeLTA"]["collapsed"]
    known = _known_rows("DeLTA", "collapsed")
    # a collapsed workbook cut to rows of whole clips: still consistent, but cut short
    cut = _truncated_copy(shared_data, rel, project, known - 1)
    set_params(project, lambda p: p["build"]["DeLTA"].update(collapsed=str(cut)))
    with pytest.raises(InputError, match="cut short"):
        build_dataset(project, "DeLTA")
    declared = {"collapsed": file_digest(cut)}
    set_params(project, lambda p: p["build"]["DeLTA"].update(sha256=declared))
    assert build_dataset(project, "DeLTA").status == "built"


def test_the_real_tables_build_by_their_known_counts(built_all):
    """The copies at hand are not the official files: they pass by their row counts."""
    import yaml

    for dataset in ("ARAUS", "SATP", "DeLTA"):
        doc = yaml.safe_load((built_all / "datasets" / dataset / "datapackage.yaml").read_text())
        found = {r["role"]: r["rows"] for r in doc["mosaiq"]["raw_inputs"]}
        for raw in source(dataset).raw_files:
            if raw.rows:  # ARAUS's participants.csv: no known count, and the copy has none
                assert found[raw.role] in raw.rows
