"""Shared harmonisation: per-response coordinates, clip aggregation, scales, bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mosaiq.harmonise import (
    add_iso_coordinates,
    age_band,
    aggregate_clips,
    linear_map,
    straightlined,
)
from mosaiq.paq import LIKERT_5, PAQ_IDS, SLIDER_100, iso_formula


def responses(rows):
    df = pd.DataFrame(rows, columns=["clip_id", "language", *PAQ_IDS])
    return add_iso_coordinates(df, LIKERT_5, "aletta2024")


def test_clip_aggregation_means_over_non_missing_and_iso_over_complete():
    df = responses(
        [
            ["a", "eng", 5, 3, 3, 1, 1, 3, 3, 5],
            ["a", "eng", 1, 3, 3, 5, 5, 3, 3, np.nan],  # incomplete: no ISO
            ["a", "eng", 3, 3, 3, 3, 3, 3, 3, 3],
            ["b", "xxx", 2, 2, 2, 2, 2, 2, 2, 2],
        ]
    )
    assert df["paq_complete"].tolist() == [True, False, True, True]
    assert np.isnan(df.loc[1, "ISOPleasant"])
    clips = aggregate_clips(df).set_index("clip_id")
    a = clips.loc["a"]
    assert a["n_responses"] == 3
    assert a["n_complete"] == 2
    assert a["mean_PAQ1_pleasant"] == pytest.approx(3.0)
    assert a["mean_PAQ8_calm"] == pytest.approx(4.0)  # mean of 5 and 3, the NaN skipped
    expected = (iso_formula([5, 3, 3, 1, 1, 3, 3, 5])[0] + 0.0) / 2
    assert a["mean_ISOPleasant"] == pytest.approx(expected, abs=1e-10)
    b = clips.loc["b"]
    assert b["mean_ISOPleasant_lang"] == pytest.approx(b["mean_ISOPleasant"])  # equal fallback
    assert df.loc[3, "angle_set"] == "equal"


def test_clip_with_no_complete_response_has_empty_iso():
    df = responses([["c", "eng", 1, 2, 3, 4, 5, 1, 2, np.nan]])
    clip = aggregate_clips(df).iloc[0]
    assert clip["n_complete"] == 0
    assert np.isnan(clip["mean_ISOPleasant"])
    assert np.isnan(clip["mean_ISOEventful_lang"])
    assert clip["mean_PAQ1_pleasant"] == 1


def test_linear_map_sends_bounds_to_bounds():
    np.testing.assert_allclose(linear_map([0, 50, 100, 12.5], SLIDER_100, LIKERT_5), [1, 3, 5, 1.5])


def test_age_bands():
    ages = pd.Series([3, 17, 18, 24, 25, 64, 65, 99, np.nan, "x"])
    assert age_band(ages).tolist() == [
        "<18",
        "<18",
        "18-24",
        "18-24",
        "25-34",
        "55-64",
        "65+",
        "65+",
        pd.NA,
        pd.NA,
    ]


def test_straightlining_masks():
    df = pd.DataFrame(
        [[4] * 8, [3] * 8, [1, 2, 3, 4, 5, 1, 2, 3], [3] * 7 + [np.nan]], columns=list(PAQ_IDS)
    )
    off, mid = straightlined(df, LIKERT_5)
    assert off.tolist() == [True, False, False, False]
    assert mid.tolist() == [False, True, False, False]


def test_straightlining_agrees_with_a_row_wise_count_of_distinct_values():
    rng = np.random.default_rng(7)
    values = rng.integers(1, 3, size=(5000, 8)).astype(float)
    values[rng.random(values.shape) < 0.02] = np.nan
    values[:50] = 3.0  # some rows on the midpoint
    df = pd.DataFrame(values, columns=list(PAQ_IDS), index=np.arange(5000) * 3)
    off, mid = straightlined(df, LIKERT_5)
    constant = df.notna().all(axis=1) & df.nunique(axis=1).eq(1)
    on_mid = constant & df[PAQ_IDS[0]].eq(3)
    assert off.equals(constant & ~on_mid)
    assert mid.equals(on_mid)
    assert off.any() and mid.any()
