"""ISD from its real raw file: counts, exclusions, quirks, coordinates, determinism, bad input."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mosaiq.api import load
from mosaiq.build import build_dataset
from mosaiq.errors import InputError
from mosaiq.layout import NOT_BUILT_ABSENT
from tests.conftest import PAQ_WORDS, REPO, copy_project

RAW_ROWS = 3589
WORDS = PAQ_WORDS


@pytest.fixture(scope="module")
def raw(isd_raw: Path) -> pd.DataFrame:
    return pd.read_csv(isd_raw)


def test_counts_and_exclusions_add_up_to_the_raw_file(built_isd: Path, raw: pd.DataFrame):
    responses = load("ISD", "responses", root=built_isd)
    exclusions = load("ISD", "exclusions", root=built_isd)
    clips = load("ISD", "clips", root=built_isd)
    assert len(raw) == RAW_ROWS
    assert len(responses) + len(exclusions) == RAW_ROWS
    assert exclusions["reason_code"].value_counts().to_dict() == {
        "placeholder_group_id": 62,  # RES 3, UNKNOWN 3, CP0 31, CP00 25
        "incomplete_paq": 32,  # 37 rows miss a PAQ item; 5 of them have a placeholder GroupID
        "straightlined": 19,
    }
    # every source row appears exactly once, published or excluded
    rows = pd.concat([responses["source_row"], exclusions["source_row"]]).sort_values()
    assert rows.tolist() == list(range(2, RAW_ROWS + 2))
    assert clips["n_responses"].sum() == len(responses)
    assert len(clips) == responses["clip_id"].nunique() == 2682
    # all-midpoint responses are kept by default (straightlining: keep_midpoint)
    assert (
        responses[[c for c in responses.columns if c[:3] == "PAQ"][:8]].eq(3).all(axis=1).sum()
        == 53
    )


def test_iso_values_recomputed_independently_from_the_raw_file(built_isd, raw):
    responses = load("ISD", "responses", root=built_isd).set_index("source_row")
    src = raw.set_axis(raw.index + 2).loc[responses.index]
    c45 = math.cos(math.pi / 4)
    p = (
        (src.pleasant - src.annoying)
        + c45 * (src.calm - src.chaotic)
        + c45 * (src.vibrant - src.monotonous)
    ) / (4 + math.sqrt(32))
    e = (
        (src.eventful - src.uneventful)
        + c45 * (src.chaotic - src.calm)
        + c45 * (src.vibrant - src.monotonous)
    ) / (4 + math.sqrt(32))
    np.testing.assert_allclose(responses["ISOPleasant"], p, atol=1e-10)
    np.testing.assert_allclose(responses["ISOEventful"], e, atol=1e-10)
    assert responses["ISOPleasant"].between(-1, 1).all()
    # language angles: every ISD language has validated angles
    assert set(responses["angle_set"]) == {"cmn", "eng", "ita", "nld", "spa"}
    assert (responses["angle_set"] == responses["language"]).all()


def test_clip_means_recomputed_from_the_raw_file(built_isd, raw):
    clips = load("ISD", "clips", root=built_isd).set_index("clip_id")
    responses = load("ISD", "responses", root=built_isd)
    src = raw.set_axis(raw.index + 2).loc[responses["source_row"]]
    src = src.assign(clip_id=responses["clip_id"].to_numpy())
    means = src.groupby("clip_id")[WORDS].mean()
    for i, word in enumerate(WORDS, 1):
        np.testing.assert_allclose(
            clips.loc[means.index, f"mean_PAQ{i}_{word}"], means[word], atol=1e-9
        )


def test_whitespace_groups_are_merged_and_reused_groups_are_kept_apart(built_isd, raw):
    clips = load("ISD", "clips", root=built_isd).set_index("clip_id")
    rf = clips.loc["ISD_RegentsParkFields_RegentsParkFields2_RF222"]
    assert rf["n_responses"] == 3
    assert rf["source_flags"] == "group_id_whitespace"
    # its acoustics come from the one spelling that carries them (raw row 903)
    src = raw[raw.RecordID.astype(str) == "903"].iloc[0]
    assert rf["LAeq_dBA"] == src["LAeq_L(A)_Max"]
    assert rf["recording_length_s"] == src["RecordingLength"]
    ts = clips.loc["ISD_TorringtonSq_TorringtonSq4_TS417"]
    assert ts["source_flags"] == "group_id_whitespace"
    et = clips[clips["GroupID"] == "ET203"]
    assert sorted(et["SessionID"]) == ["EustonTap2", "EustonTap3"]
    assert set(et["source_flags"]) == {"group_id_in_several_sessions"}
    assert not clips.index.str.contains(" ").any()


def test_acoustics_renamed_with_units_and_locations_have_one_point(built_isd, isd_raw):
    clips = load("ISD", "clips", root=built_isd)
    schema = yaml.safe_load((built_isd / "datasets/ISD/schemas/clips.schema.yaml").read_text())
    fields = {f["name"]: f for f in schema["fields"]}
    acoustic = [f for f in fields.values() if "ISD column" in f.get("description", "")]
    assert len(acoustic) == 96
    assert fields["LAeq_dBA"]["unit"] == "dBA"
    assert "LAeq_L(A)_Max" in fields["LAeq_dBA"]["description"]
    assert fields["N5_sone"]["unit"] == "sone"
    # 825 recording groups have acoustics in the raw file; 4 of them lose every response to
    # the exclusions and so are not published as clips.
    responses = load("ISD", "responses", root=built_isd)
    raw = pd.read_csv(isd_raw)
    with_acoustics = raw.set_axis(raw.index + 2)["LAeq_L(A)_Max"].notna()
    published_rows = responses.set_index("source_row")["clip_id"]
    expected = published_rows[with_acoustics.loc[published_rows.index].to_numpy()].nunique()
    assert clips["LAeq_dBA"].notna().sum() == expected == 821
    per_location = clips.groupby("LocationID")[["latitude", "longitude"]].nunique(dropna=False)
    assert (per_location <= 1).all().all()


def test_no_personal_data_is_published(built_isd):
    responses = load("ISD", "responses", root=built_isd)
    for col in (
        "misc01",
        "who01",
        "WHO_Sum",
        "edu00",
        "eth00",
        "occ00",
        "start_time",
        "end_time",
        "latitude",
        "longitude",
        "age00",
        "gen00",
        "eth00_other",
    ):
        assert col not in responses.columns
    assert set(responses["age_band"].dropna()) <= {
        "<18",
        "18-24",
        "25-34",
        "35-44",
        "45-54",
        "55-64",
        "65+",
    }
    assert set(responses["gender"].dropna()) == {
        "female",
        "male",
        "code_1",
        "code_2",
        "prefer_not_to_say",
        "non_conforming",
    }


def test_two_builds_are_byte_identical_and_match_the_committed_package(tmp_path, built_isd):
    other = copy_project(tmp_path / "again")
    build_dataset(other, "ISD")
    for path in sorted((built_isd / "datasets/ISD").rglob("*")):
        if path.is_file():
            rel = path.relative_to(built_isd)
            assert (other / rel).read_bytes() == path.read_bytes(), rel
            committed = REPO / rel
            assert committed.read_bytes() == path.read_bytes(), f"{rel} is stale: run dvc repro"


def test_partial_responses_are_kept_when_the_threshold_allows(project: Path, raw):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["build"]["harmonise"]["quality"]["min_paq_items"] = 6
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    build_dataset(project, "ISD")
    responses = load("ISD", "responses", root=project)
    partial = responses[~responses["paq_complete"]]
    rated = raw[WORDS].notna().sum(axis=1)
    placeholder = raw["GroupID"].str.strip().isin(["RES", "UNKNOWN", "CP0", "CP00"])
    assert len(partial) == ((rated >= 6) & (rated < 8) & ~placeholder).sum() == 26
    assert partial["ISOPleasant"].isna().all()
    assert partial["ISOEventful_lang"].isna().all()
    clips = load("ISD", "clips", root=project).set_index("clip_id")
    touched = clips.loc[partial["clip_id"].unique()]
    assert (touched["n_complete"] < touched["n_responses"]).all()


def _project_with_raw(project: Path, text: str | bytes) -> Path:
    path = project / "raw" / "ISD v1.0 Data.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["build"]["ISD"] = {
        "raw": "raw/ISD v1.0 Data.csv",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    return path


def test_a_different_file_is_refused_unless_its_hash_is_declared(project, isd_raw):
    data = isd_raw.read_bytes().replace(b"CarloV2", b"CarloV9", 1)
    path = _project_with_raw(project, data)
    params = yaml.safe_load((project / "params.yaml").read_text())
    declared = params["build"]["ISD"].pop("sha256")
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(InputError, match=r"sha256 is [0-9a-f]{64}, not the known value") as exc:
        build_dataset(project, "ISD")
    assert "build.ISD.sha256" in str(exc.value)
    assert path.name in str(exc.value)
    params["build"]["ISD"]["sha256"] = declared
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    assert build_dataset(project, "ISD").status == "built"


@pytest.fixture
def good_package(project: Path, isd_raw: Path) -> Path:
    """A project whose ISD package is built, and whose raw file we may then break."""
    _project_with_raw(project, isd_raw.read_bytes())
    build_dataset(project, "ISD")
    return project


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / "datasets/ISD").rglob("*"))
        if p.is_file()
    }


def _break(project: Path, isd_raw: Path, edit) -> None:
    lines = isd_raw.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    _project_with_raw(project, "".join(edit(lines)))


def _replace_cell(line: str, column: int, value: str) -> str:
    cells = line.rstrip("\n").split(",")
    cells[column] = value
    return ",".join(cells) + "\n"


@pytest.mark.parametrize(
    ("edit", "message", "row", "column"),
    [
        (lambda ls: [ls[0].replace("calm,", "kalm,"), *ls[1:]], "missing column", None, "calm"),
        (
            lambda ls: [ls[0], _replace_cell(ls[1], 14, "abc"), *ls[2:]],
            "not a number",
            2,
            "pleasant",
        ),
        (
            lambda ls: [ls[0], _replace_cell(ls[1], 15, "7"), *ls[2:]],
            "outside the scale",
            2,
            "chaotic",
        ),
        (lambda ls: [ls[0], ls[1], ls[1], *ls[2:]], "duplicate ID", 3, "RecordID"),
        (lambda ls: [], "file is empty", None, None),
        (lambda ls: [ls[0]], "no data rows", None, None),
    ],
    ids=["missing-column", "non-numeric", "out-of-range", "duplicate-id", "empty", "header-only"],
)
def test_bad_raw_input_names_the_place_and_keeps_the_old_package(
    good_package, isd_raw, edit, message, row, column
):
    before = _snapshot(good_package)
    _break(good_package, isd_raw, edit)
    with pytest.raises(InputError, match=message) as exc:
        build_dataset(good_package, "ISD")
    err = exc.value
    assert err.file
    assert "ISD v1.0 Data.csv" in err.file
    assert err.row == row
    assert err.column == column
    if message == "missing column":
        assert "Expected:" in str(err)
        assert "Found:" in str(err)
        assert "'kalm'" in str(err)
    assert _snapshot(good_package) == before
    leftovers = list((good_package / "datasets").rglob(".*tmp-*"))
    assert leftovers == []


def test_missing_raw_file_is_raw_input_absent_naming_it(project):
    # The same rule as every other dataset: an absent raw file is "not built", with a note
    # naming the file that was expected and where.
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["build"]["ISD"]["raw"] = "nowhere/ISD v1.0 Data.csv"
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    result = build_dataset(project, "ISD")
    assert result.status == NOT_BUILT_ABSENT
    assert "ISD v1.0 Data.csv not found at" in result.note
    assert str(project / "nowhere" / "ISD v1.0 Data.csv") in result.note
    assert pd.read_csv(project / "datasets/ISD/data/clips.csv").empty
