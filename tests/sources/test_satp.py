"""SATP from the real Main Merge sheet: native scale, 1-5 harmonisation, languages, quirks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mosaiq.api import load
from mosaiq.build import build_dataset
from mosaiq.errors import InputError
from mosaiq.layout import file_digest
from tests.conftest import set_params

RAW_ROWS = 19088


@pytest.fixture(scope="module")
def raw(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "SATP/SATP_v1.4_main_merge.csv")


def test_counts_and_exclusions(built_all, raw):
    responses = load("SATP", "responses", root=built_all)
    exclusions = load("SATP", "exclusions", root=built_all)
    assert len(raw) == RAW_ROWS == len(responses) + len(exclusions)
    assert exclusions["reason_code"].value_counts().to_dict() == {
        "incomplete_paq": 23,  # 19 rows miss one PAQ, 4 miss all eight
        "rating_out_of_range": 3,  # 200, 534 and 500
        "straightlined": 2,
    }
    out = exclusions[exclusions["reason_code"] == "rating_out_of_range"]
    assert sorted(out["detail"]) == [
        "PAQ4 = 200.0 (scale 0-100)",
        "PAQ6 = 534.0 (scale 0-100)",
        "PAQ8 = 500.0 (scale 0-100)",
    ]
    assert len(load("SATP", "clips", root=built_all)) == 27
    languages = load("SATP", "clip_languages", root=built_all)
    assert len(languages) == 27 * 18
    assert languages["n_responses"].sum() == len(responses)


def test_quirks_are_flagged(built_all):
    responses = load("SATP", "responses", root=built_all)
    twins = responses[responses["participant_id"].str.startswith("SATP_FER_5M04")]
    assert twins["participant_id"].value_counts().to_dict() == {
        "SATP_FER_5M04-female": 27,
        "SATP_FER_5M04-male": 27,
    }
    assert (twins["source_flags"] == "duplicated_participant_id").all()
    non_int = responses["source_flags"].str.contains("non_integer_rating", na=False)
    assert set(responses.loc[non_int, "cohort"]) == {"spa-UCH"}
    assert int(non_int.sum()) == 837
    ranges = responses["source_flags"].str.contains("age_range_not_banded", na=False)
    assert responses.loc[ranges, "age_band"].isna().all()
    assert responses["participant_id"].nunique() == 707  # 706 IDs, one of them two people


def test_native_scale_coordinates_and_the_linear_map(built_all, raw):
    responses = load("SATP", "responses", root=built_all).set_index("source_row")
    src = raw.set_axis(raw.index + 2).loc[responses.index]
    p = [src[f"PAQ{i}"] for i in range(1, 9)]
    c45 = math.cos(math.pi / 4)
    # the ISO formula with R = 100 (denominator 100 + sqrt(2) * 100)
    iso_p = ((p[0] - p[4]) + c45 * (p[7] - p[3]) + c45 * (p[1] - p[5])) / (100 + 100 * 2**0.5)
    np.testing.assert_allclose(responses["ISOPleasant"], iso_p, atol=1e-10)
    np.testing.assert_allclose(responses["PAQ3_eventful_1to5"], 1 + p[2] / 25, atol=1e-10)
    assert responses["PAQ1_pleasant"].max() <= 100


@pytest.mark.parametrize(("row", "lang"), [(2, "arb"), (8000, None), (16000, None)])
def test_language_angle_rows_computed_by_hand(built_all, raw, row, lang):
    angles = {
        "arb": (0, 36, 45, 135, 167, 201, 242, 308),
        "cmn": (0, 18, 38, 154, 171, 196, 217, 318),
        "eng": (0, 46, 94, 138, 177, 241, 275, 340),
        "ita": (0, 57, 104, 143, 170, 274, 285, 336),
        "nld": (0, 43, 111, 125, 174, 257, 307, 341),
        "spa": (0, 41, 103, 147, 174, 238, 279, 332),
        "swe": (0, 66, 87, 146, 175, 249, 275, 335),
        "tur": (0, 55, 97, 106, 157, 254, 289, 313),
        "deu": (0, 64, 97, 132, 182, 254, 282, 336),
        "ell": (0, 72, 86, 133, 161, 233, 267, 328),
        "hrv": (0, 84, 93, 160, 173, 243, 273, 354),
        "ind": (0, 53, 104, 123, 139, 202, 284, 308),
    }
    src = raw.iloc[row - 2]
    lang = lang or src["Language"]
    assert src["Language"] == lang
    x = [src[f"PAQ{i}"] for i in range(1, 9)]
    theta = angles.get(lang, (0, 45, 90, 135, 180, 225, 270, 315))
    cos = [math.cos(math.radians(t)) for t in theta]
    sin = [math.sin(math.radians(t)) for t in theta]
    want_p = sum(c * (v - 50) for c, v in zip(cos, x, strict=True)) / (50 * sum(map(abs, cos)))
    want_e = sum(s * (v - 50) for s, v in zip(sin, x, strict=True)) / (50 * sum(map(abs, sin)))
    responses = load("SATP", "responses", root=built_all).set_index("source_row")
    got = responses.loc[row]
    assert got["ISOPleasant_lang"] == pytest.approx(want_p, abs=1e-9)
    assert got["ISOEventful_lang"] == pytest.approx(want_e, abs=1e-9)
    assert got["angle_set"] == (lang if lang in angles else "equal")


def test_languages_without_validated_angles_use_equal_angles(built_all):
    responses = load("SATP", "responses", root=built_all)
    equal = responses[responses["language"].isin(["fra", "jpn", "kor", "por", "vie", "zsm"])]
    assert (equal["angle_set"] == "equal").all()
    np.testing.assert_allclose(equal["ISOPleasant_lang"], equal["ISOPleasant"], atol=1e-12)


def _workbook(path, raw: pd.DataFrame, sheet="Main Merge"):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Read me"
    ws = book.create_sheet(sheet)
    ws.append(list(raw.columns))
    for row in raw.itertuples(index=False):
        ws.append([None if pd.isna(v) else v for v in row])
    book.save(path)


def test_official_workbook_sheet_and_wrong_sheet(project, raw):
    path = project / "datasets/SATP/raw/SATP Dataset v1.5.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    sample = raw[raw["Recording"].isin(["CG01", "CT301"])]
    _workbook(path, sample)
    # a sample is not the known version (19,088 rows): refused until its hash is declared
    with pytest.raises(InputError, match=rf"{len(sample):,} data rows, fewer than the 19,088"):
        build_dataset(project, "SATP")
    set_params(project, lambda p: p["build"]["SATP"].update(sha256=file_digest(path)))
    result = build_dataset(project, "SATP")
    assert result.status == "built"
    assert result.counts["responses"] + result.counts["exclusions"] == len(sample)
    assert result.counts["clips"] == 2
    set_params(project, lambda p: p["build"]["SATP"].update(sheet="Main merge"))
    before = (project / "datasets/SATP/data/responses.csv").read_bytes()
    with pytest.raises(
        InputError,
        match=r"no sheet 'Main merge'; the workbook has \['Read me', "
        r"'Main Merge'\]",
    ):
        build_dataset(project, "SATP")
    assert (project / "datasets/SATP/data/responses.csv").read_bytes() == before
