"""Planted defects: one case per class of hostile or damaged raw input, for every dataset where
the class applies.

Each dataset is built once from a small real sample (its first rows); each case then plants one
defect in that sample and rebuilds. Every case must be refused with the exit code of a user
error, a message naming the file, the row and the column, and the package built before left
byte-identical. ``OUTCOMES`` counts the cases per dataset and outcome.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from mosaiq.build import build_dataset
from mosaiq.errors import InputError, MosaiqError
from mosaiq.layout import file_digest
from tests.conftest import SAMPLE_ROWS, copy_project, set_params, write_raw_sample


@dataclass(frozen=True)
class Case:
    dataset: str
    key: str
    """Which raw file (``SHARED_FILES`` key; ``raw`` for ISD)."""
    table: Callable[[pd.DataFrame], pd.DataFrame] | None
    """An edit of the table (every cell as text), or ``None`` for ``data``."""
    data: Callable[[bytes], bytes] | None
    message: str
    row: int | None
    column: str | None


def _cell(column: str, pos: int, value: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(t: pd.DataFrame) -> pd.DataFrame:
        t = t.copy()
        t.loc[t.index[pos], column] = value
        return t

    return edit


def _cells(column: str, positions: list[int], value: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(t: pd.DataFrame) -> pd.DataFrame:
        t = t.copy()
        t.loc[t.index[positions], column] = value
        return t

    return edit


def _torn_last_row(data: bytes) -> bytes:
    """The file cut in the middle of its last row, as an interrupted download leaves it."""
    body = data.rstrip(b"\r\n")
    start = body.rfind(b"\n") + 1
    return body[: start + (len(body) - start) // 3]


def _extra_field(line: int) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        lines = data.split(b"\n")
        lines[line - 1] = lines[line - 1] + b",spill"
        return b"\n".join(lines)

    return edit


def _latin1_bytes(line: int) -> Callable[[bytes], bytes]:
    """The file re-saved as Latin-1 with an accented character on ``line``."""

    def edit(data: bytes) -> bytes:
        lines = data.decode("utf-8-sig").split("\n")
        lines[line - 1] = "Zürich " + lines[line - 1]
        return "\n".join(lines).encode("latin-1")

    return edit


LAST = -1  # stands for the line of the last data row of the sample

ID_ATTACKS = {
    "path": "../../etc/passwd",
    "formula": "=cmd|' /C calc'!A0",
    "blank": "   ",
}

CASES: dict[str, Case] = {}
for ds, key, column in (
    ("ISD", "raw", "LocationID"),
    ("ARAUS", "responses", "participant"),
    ("SATP", "responses", "Participant"),
    ("DeLTA", "survey", "participant_id"),
):
    CASES[f"{ds}-torn-row"] = Case(
        ds, key, None, _torn_last_row, "fields, the header has", LAST, None
    )
    CASES[f"{ds}-extra-field"] = Case(
        ds, key, None, _extra_field(7), "line 7 has .* fields", 7, None
    )
    CASES[f"{ds}-latin1"] = Case(ds, key, None, _latin1_bytes(5), "not valid UTF-8", 5, None)
    for attack, value in ID_ATTACKS.items():
        CASES[f"{ds}-id-{attack}"] = Case(
            ds, key, _cell(column, 4, value), None, "does not match the pattern|empty", 6, None
        )

CASES.update(
    {
        # text published as it is: formula injection
        "ISD-formula-text": Case(
            "ISD", "raw", _cell("Survey_Version", 3, "=1+2"), None, "formula", 5, "survey_version"
        ),
        "SATP-formula-text": Case(
            "SATP",
            "responses",
            _cell("Institution", 3, "@SUM(A1)"),
            None,
            "formula",
            5,
            "institution",
        ),
        "DeLTA-formula-clip": Case(
            "DeLTA", "collapsed", _cell("recording", 0, "-2+3"), None, "pattern", None, "clip_id"
        ),
        # implausible ages
        "ISD-age-negative": Case("ISD", "raw", _cell("age00", 2, "-1"), None, "age", 4, "age00"),
        "ISD-age-huge": Case("ISD", "raw", _cell("age00", 2, "1e308"), None, "age", 4, "age00"),
        "SATP-age-negative": Case(
            "SATP", "responses", _cell("Age", 2, "-1"), None, "age", 4, "Age"
        ),
        "SATP-age-huge": Case("SATP", "responses", _cell("Age", 2, "1e308"), None, "age", 4, "Age"),
        "DeLTA-age-negative": Case("DeLTA", "survey", _cell("age", 2, "-1"), None, "age", 4, "age"),
        "DeLTA-label-not-binary": Case(
            "DeLTA",
            "survey",
            _cell("Bird tweet", 2, "2"),
            None,
            "label value '2' is not 0 or 1",
            4,
            "Bird tweet",
        ),
        "DeLTA-age-huge": Case("DeLTA", "survey", _cell("age", 2, "1e308"), None, "age", 4, "age"),
        # parse errors name the value
        "SATP-sequence-fraction": Case(
            "SATP",
            "responses",
            _cell("sequence_id", 3, "1.5"),
            None,
            "not an integer: '1.5'",
            5,
            "sequence_id",
        ),
        "ARAUS-fold-fraction": Case(
            "ARAUS", "responses", _cell("fold", 3, "2.5"), None, "not an integer: '2.5'", 5, "fold"
        ),
        "ISD-paq-infinite": Case(
            "ISD", "raw", _cell("pleasant", 3, "inf"), None, "outside the scale", 5, "pleasant"
        ),
        "ARAUS-paq-infinite": Case(
            "ARAUS", "responses", _cell("calm", 3, "inf"), None, "outside the scale", 5, "calm"
        ),
        # the layout: the missing column is named
        "ARAUS-missing-column": Case(
            "ARAUS",
            "responses",
            lambda t: t.drop(columns=["calm"]),
            None,
            r"missing column\(s\) \['calm'\]",
            None,
            None,
        ),
        # SATP: a repeated Participant + Recording other than the known shared ID
        "SATP-duplicate-other-gender": Case(
            "SATP",
            "responses",
            lambda t: pd.concat(
                [
                    t,
                    t.iloc[[0]].assign(
                        Gender="Female" if t.iloc[0]["Gender"] == "Male" else "Male"
                    ),
                ]
            ),
            None,
            r"duplicate ID .*\(rows 2, 122\)",
            SAMPLE_ROWS + 2,
            "Participant",
        ),
    }
)

# ISD acoustics: the rows of the first recording group (a value must be the same on all of them)
_ISD_LEVEL = "LAeq_L(A)_Max"


def _isd_group_rows(t: pd.DataFrame) -> list[int]:
    first = t.iloc[0][["LocationID", "SessionID", "GroupID"]]
    same = (t[["LocationID", "SessionID", "GroupID"]] == first).all(axis=1)
    return [int(i) for i in range(len(t)) if same.iloc[i]]


def _isd_acoustic(value: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda t: _cells(_ISD_LEVEL, _isd_group_rows(t), value)(t)


for name, value, message in (
    ("infinite", "inf", "not a finite number"),
    ("huge", "1e308", "outside the range"),
    ("negative", "-500", "outside the range"),
):
    CASES[f"ISD-acoustic-{name}"] = Case(
        "ISD", "raw", _isd_acoustic(value), None, message, 2, "LAeq_dBA"
    )


def _isd_inconsistent(t: pd.DataFrame) -> pd.DataFrame:
    rows = _isd_group_rows(t)
    assert len(rows) > 1, "the first ISD group of the sample has one row"
    return _cell(_ISD_LEVEL, rows[1], "99.5")(t)


CASES["ISD-acoustic-inconsistent"] = Case(
    "ISD", "raw", _isd_inconsistent, None, "'99.5' where row 2 has", None, _ISD_LEVEL
)

OUTCOMES = Counter((c.dataset, "refused") for c in CASES.values())


@dataclass
class Sample:
    root: Path
    files: dict[str, Path]
    pristine: dict[str, bytes]
    before: dict[str, bytes]


def _snapshot(root: Path, dataset: str) -> dict[str, bytes]:
    pkg = root / "datasets" / dataset
    return {
        str(p.relative_to(pkg)): p.read_bytes()
        for p in sorted(pkg.rglob("*"))
        if p.is_file() and "raw" not in p.parts
    }


def _write_sample(shared: Path | None, isd_raw: Path, dataset: str, root: Path) -> dict[str, Path]:
    raw = root / "datasets" / dataset / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    if dataset == "ISD":
        table = pd.read_csv(isd_raw, dtype=str, keep_default_na=False).iloc[:SAMPLE_ROWS]
        path = raw / isd_raw.name
        table.to_csv(path, index=False)
        return {"raw": path}
    assert shared is not None
    return write_raw_sample(shared, dataset, raw)


def _point_params(root: Path, dataset: str, files: dict[str, Path]) -> None:
    def edit(p: dict) -> None:
        if dataset == "ISD":
            p["build"]["ISD"]["raw"] = str(files["raw"])
            p["build"]["ISD"]["sha256"] = file_digest(files["raw"])
        else:
            # a sample is no known version of the file: its hash is declared, per file
            hashes = {k: file_digest(v) for k, v in files.items()}
            p["build"][dataset].update({k: v.name for k, v in files.items()}, sha256=hashes)

    set_params(root, edit)


_SAMPLES: dict[str, Sample] = {}


@pytest.fixture(scope="module")
def samples(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, isd_raw: Path
) -> Iterator[Callable[[str], Sample]]:
    """A built sample project per dataset, made once for the module."""

    def get(dataset: str) -> Sample:
        if dataset not in _SAMPLES:
            shared = None if dataset == "ISD" else request.getfixturevalue("shared_data")
            root = copy_project(tmp_path_factory.mktemp(dataset) / "project")
            files = _write_sample(shared, isd_raw, dataset, root)
            _point_params(root, dataset, files)
            assert build_dataset(root, dataset).status == "built"
            _SAMPLES[dataset] = Sample(
                root,
                files,
                {k: p.read_bytes() for k, p in files.items()},
                _snapshot(root, dataset),
            )
        return _SAMPLES[dataset]

    yield get
    _SAMPLES.clear()


@pytest.mark.parametrize("name", list(CASES))
def test_planted_defect_is_refused_and_the_package_kept(samples, name: str) -> None:
    case = CASES[name]
    sample = samples(case.dataset)
    path = sample.files[case.key]
    try:
        if case.table is not None:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
            case.table(table).to_csv(path, index=False)
        else:
            assert case.data is not None
            path.write_bytes(case.data(sample.pristine[case.key]))
        _point_params(sample.root, case.dataset, sample.files)
        with pytest.raises(InputError, match=case.message) as exc:
            build_dataset(sample.root, case.dataset)
        err = exc.value
        assert isinstance(err, MosaiqError) and err.exit_code != 0
        assert err.file is not None and path.name in err.file, str(err)
        row = (
            sample.pristine[case.key].rstrip(b"\n").count(b"\n") + 1
            if case.row == LAST
            else case.row
        )
        assert row is None or err.row == row, str(err)
        assert case.column is None or err.column == case.column, str(err)
        assert err.row is not None or err.column is not None, str(err)
        assert _snapshot(sample.root, case.dataset) == sample.before
    finally:
        for key, p in sample.files.items():
            p.write_bytes(sample.pristine[key])


def test_every_dataset_has_planted_cases() -> None:
    assert {ds for ds, _ in OUTCOMES} == {"ISD", "ARAUS", "SATP", "DeLTA"}
