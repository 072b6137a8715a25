"""ARAUS from the real re-assembled responses, and the official layout from small tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mosaiq.api import load
from mosaiq.build import build_dataset
from mosaiq.errors import InputError
from tests.conftest import PAQ_WORDS, set_params

RAW_ROWS = 25248
WORDS = PAQ_WORDS


@pytest.fixture(scope="module")
def raw(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "ARAUS/araus_v1_responses_soundscaper_derived.csv")


def test_counts_and_exclusions(built_all, raw):
    responses = load("ARAUS", "responses", root=built_all)
    exclusions = load("ARAUS", "exclusions", root=built_all)
    assert len(raw) == RAW_ROWS
    assert len(responses) + len(exclusions) == RAW_ROWS
    assert exclusions["reason_code"].value_counts().to_dict() == {
        "straightlined": 8,
    }
    clips = load("ARAUS", "clips", root=built_all)
    assert len(clips) == len(responses) == 25240  # the copy: one stimulus per response
    # all-midpoint responses are kept by default (straightlining: keep_midpoint)
    assert (
        responses[[c for c in responses.columns if c[:3] == "PAQ"][:8]].eq(3).all(axis=1).sum()
        == 82
    )


def test_fold_structure(built_all):
    responses = load("ARAUS", "responses", root=built_all)
    folds = responses.groupby("participant_id")["fold"].nunique()
    assert (folds == 1).all()  # folds are disjoint by participant
    cv = responses[responses["fold"] > 0]
    assert cv.groupby("fold")["participant_id"].nunique().to_dict() == dict.fromkeys(
        range(1, 6), 120
    )
    clips = load("ARAUS", "clips", root=built_all)
    test = clips[clips["fold"] == 0]
    assert len(test) == 48
    assert (test["source_flags"] == "pre_averaged_test_panel").all()
    # stimulus order is kept: the practice (1) and consistency (last) stimuli are not in the
    # copy, so cross-validation indices run 2..44 (of 45) and test indices 2..50 (of 51)
    assert cv["stimulus_index"].between(2, 44).all()
    assert responses.loc[responses["fold"] == 0, "stimulus_index"].between(2, 50).all()
    per_person = cv.groupby("participant_id").size()
    # the 8 exclusions (straight-lined on a non-midpoint value) are all in folds 1-5
    assert per_person.max() == 42 and per_person.sum() == 25200 - 8


def test_iso_matches_the_formula_and_the_redistributed_values(built_all, raw):
    responses = load("ARAUS", "responses", root=built_all).set_index("source_row")
    src = raw.set_axis(raw.index + 2).loc[responses.index]
    c45 = math.cos(math.pi / 4)
    p = (
        (src.pleasant - src.annoying)
        + c45 * (src.calm - src.chaotic)
        + c45 * (src.vibrant - src.monotonous)
    ) / (4 + math.sqrt(32))
    np.testing.assert_allclose(responses["ISOPleasant"], p, atol=1e-10)
    np.testing.assert_allclose(responses["ISOPleasant"], src["ISOPl_soundscaper"], atol=1e-9)
    np.testing.assert_allclose(responses["ISOEventful"], src["ISOEv_soundscaper"], atol=1e-9)
    assert set(responses["angle_set"]) == {"eng"}


def test_per_clip_means_for_the_test_stimuli(built_all, raw):
    clips = load("ARAUS", "clips", root=built_all).set_index("clip_id")
    test = raw[raw.fold == 0].set_index("ARAUS_" + raw.loc[raw.fold == 0, "audio_file_id"])
    for i, word in enumerate(WORDS, 1):
        np.testing.assert_allclose(
            clips.loc[test.index, f"mean_PAQ{i}_{word}"], test[word], atol=1e-10
        )


OFFICIAL = [
    "participant",
    "fold_r",
    "soundscape",
    "masker",
    "smr",
    "stimulus_index",
    "time_taken",
    "is_attention",
    *WORDS,
    "appropriate",
    "LAavg_r",
    "Navg_r",
]


def official_rows():
    """Two test-fold participants who heard the same two stimuli, with the fold -1 stimuli of
    the protocol (practice first, attention in the middle, consistency last)."""
    rows = []
    for p, shift in (("10001", 0), ("10002", 1)):
        rows += [
            [
                p,
                -1,
                "R0091_segment_binaural_44100_1.wav",
                "silence_00001.wav",
                0,
                1,
                40,
                0,
                3,
                2,
                3,
                2,
                3,
                4,
                2,
                3,
                3,
                60.1,
                10.2,
            ],
            [
                p,
                0,
                "R1001_segment_binaural_44100.wav",
                "bird_00075.wav",
                3,
                2,
                35,
                0,
                4 + shift,
                3,
                2,
                2,
                2,
                4,
                1,
                1,
                4,
                61.5,
                11.0,
            ],
            [
                p,
                -1,
                "R0091_segment_binaural_44100_1.wav",
                "silence_00001.wav",
                0,
                3,
                31,
                1,
                3,
                3,
                3,
                3,
                3,
                3,
                3,
                3,
                3,
                60.1,
                10.2,
            ],
            [
                p,
                0,
                "R1002_segment_binaural_44100.wav",
                "traffic_00010.wav",
                -6,
                4,
                33,
                0,
                1,
                2,
                5,
                4 - shift,
                5,
                1,
                1,
                2,
                2,
                72.3,
                25.4,
            ],
            [
                p,
                -1,
                "R0091_segment_binaural_44100_1.wav",
                "silence_00001.wav",
                0,
                5,
                30,
                0,
                2,
                2,
                3,
                2,
                3,
                4,
                2,
                3,
                3,
                60.1,
                10.2,
            ],
        ]
    return pd.DataFrame(rows, columns=OFFICIAL)


def _official_project(project, rows, people=None):
    raw = project / "datasets/ARAUS/raw"
    raw.mkdir(parents=True, exist_ok=True)
    rows.to_csv(raw / "responses.csv", index=False)
    if people is not None:
        people.to_csv(raw / "participants.csv", index=False)
    return project


def test_official_layout(project):
    people = pd.DataFrame(
        {
            "participant": ["ARAUS_10001", "ARAUS_10002"],
            "fold_p": [0, 0],
            "age": [23, 41],
            "gender": [1, 0],
            "wnss": [30, 31],
        }
    )
    _official_project(project, official_rows(), people)
    result = build_dataset(project, "ARAUS")
    assert result.status == "built"
    exclusions = load("ARAUS", "exclusions", root=project)
    assert exclusions["reason_code"].value_counts().to_dict() == {
        "practice_stimulus": 2,
        "attention_stimulus": 2,
        "consistency_stimulus": 2,
    }
    clips = load("ARAUS", "clips", root=project).set_index("clip_id")
    bird = clips.loc["ARAUS_R1001_segment_binaural_44100__bird_00075__smr+3"]
    assert bird["n_responses"] == 2 and bird["fold"] == 0 and bird["smr"] == 3
    assert bird["mean_PAQ1_pleasant"] == 4.5
    assert bird["mean_appropriate"] == 4 and bird["LAavg_r"] == 61.5
    assert (
        clips.loc["ARAUS_R1002_segment_binaural_44100__traffic_00010__smr-6", "masker"]
        == "traffic_00010"
    )
    responses = load("ARAUS", "responses", root=project)
    assert set(responses["response_id"]) == {
        "ARAUS_10001_s02",
        "ARAUS_10001_s04",
        "ARAUS_10002_s02",
        "ARAUS_10002_s04",
    }
    by_person = responses.groupby("participant_id")[["age_band", "gender"]].first()
    assert by_person.loc["ARAUS_10001"].tolist() == ["18-24", "female"]
    assert by_person.loc["ARAUS_10002"].tolist() == ["35-44", "male"]
    assert "wnss" not in responses.columns and "time_taken" not in responses.columns


def test_unknown_layout_lists_expected_and_found_columns(project):
    _official_project(
        project, official_rows().drop(columns=["masker"]).rename(columns={"fold_r": "fold"})
    )
    with pytest.raises(InputError, match="unknown ARAUS layout") as exc:
        build_dataset(project, "ARAUS")
    text = str(exc.value)
    assert "'masker'" in text and "audio_file_id" in text and "Found:" in text


def test_rating_out_of_range_is_an_error(project):
    rows = official_rows()
    rows.loc[3, "calm"] = 7
    _official_project(project, rows)
    with pytest.raises(InputError, match="outside the scale 1-5") as exc:
        build_dataset(project, "ARAUS")
    assert (exc.value.row, exc.value.column) == (5, "calm")


def test_copy_layout_from_params(project, shared_data):
    set_params(
        project,
        lambda p: p["build"]["ARAUS"].update(
            responses=str(shared_data / "ARAUS/araus_v1_responses_soundscaper_derived.csv")
        ),
    )
    assert build_dataset(project, "ARAUS").counts["clips"] == 25240
