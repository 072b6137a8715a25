"""Bad raw input of any dataset: a clear error naming file, row and column, and the package
that was there before is left exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mosaiq.build import build_dataset
from mosaiq.errors import InputError
from mosaiq.layout import file_digest
from tests.conftest import SAMPLE_ROWS, set_params, write_raw_sample


def _sample(shared: Path, dataset: str, project: Path) -> dict[str, Path]:
    written = write_raw_sample(shared, dataset, project / "datasets" / dataset / "raw")
    # A sample is no known version of the file: its hash is declared (params.yaml escape hatch).
    hashes = {k: file_digest(v) for k, v in written.items()}
    set_params(
        project,
        lambda p: p["build"][dataset].update(
            {**{k: v.name for k, v in written.items()}, "sha256": hashes}
        ),
    )
    return written


def _snapshot(root: Path, dataset: str) -> dict[str, bytes]:
    pkg = root / "datasets" / dataset
    return {
        str(p.relative_to(pkg)): p.read_bytes()
        for p in sorted(pkg.rglob("*"))
        if p.is_file() and "raw" not in p.parts
    }


def _edit(path: Path, edit) -> None:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(table).to_csv(path, index=False)


CASES = {
    # dataset, file key, edit, message, (row, column) expected
    "ARAUS-missing-column": (
        "ARAUS",
        "responses",
        lambda t: t.drop(columns=["calm"]),
        "unknown ARAUS layout",
        (None, None),
    ),
    "ARAUS-non-numeric": (
        "ARAUS",
        "responses",
        lambda t: t.assign(eventful=t["eventful"].where(t.index != 6, "n/a")),
        "not a number",
        (8, "eventful"),
    ),
    "ARAUS-duplicate-id": (
        "ARAUS",
        "responses",
        lambda t: pd.concat([t, t.iloc[[3]]]),
        "duplicate ID",
        (SAMPLE_ROWS + 2, "stimulus_index"),
    ),
    "SATP-missing-column": (
        "SATP",
        "responses",
        lambda t: t.drop(columns=["PAQ5"]),
        "missing column",
        (None, None),
    ),
    "SATP-non-numeric": (
        "SATP",
        "responses",
        lambda t: t.assign(PAQ2=t["PAQ2"].where(t.index != 9, "fifty")),
        "not a number",
        (11, "PAQ2"),
    ),
    "SATP-duplicate-id": (
        "SATP",
        "responses",
        lambda t: pd.concat([t, t.iloc[[0]]]),
        "duplicate ID",
        (SAMPLE_ROWS + 2, "Participant"),
    ),
    "DeLTA-out-of-range": (
        "DeLTA",
        "survey",
        lambda t: t.assign(annoyance=t["annoyance"].where(t.index != 2, "11")),
        "outside the scale 1-10",
        (4, "annoyance"),
    ),
    "DeLTA-bad-label": (
        "DeLTA",
        "survey",
        lambda t: t.assign(Car=t["Car"].where(t.index != 0, "2")),
        "not 0 or 1",
        (2, "Car"),
    ),
    "DeLTA-duplicate-clip": (
        "DeLTA",
        "collapsed",
        lambda t: pd.concat([t, t.iloc[[1]]]),
        "duplicate ID",
        (None, "recording"),
    ),
    "DeLTA-empty": ("DeLTA", "collapsed", lambda t: t.iloc[0:0], "no data rows", (None, None)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_and_the_old_package_kept(project, shared_data, case):
    dataset, key, edit, message, (row, column) = CASES[case]
    files = _sample(shared_data, dataset, project)
    assert build_dataset(project, dataset).status == "built"
    before = _snapshot(project, dataset)
    _edit(files[key], edit)
    with pytest.raises(InputError, match=message) as exc:
        build_dataset(project, dataset)
    err = exc.value
    assert err.file is not None and files[key].name in err.file
    if row is not None:
        assert err.row == row
    if column is not None:
        assert err.column == column
    assert _snapshot(project, dataset) == before


def test_an_empty_file_is_refused(project, shared_data):
    files = _sample(shared_data, "SATP", project)
    build_dataset(project, "SATP")
    before = _snapshot(project, "SATP")
    files["responses"].write_bytes(b"")
    with pytest.raises(InputError, match="file is empty"):
        build_dataset(project, "SATP")
    assert _snapshot(project, "SATP") == before
