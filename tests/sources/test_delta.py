"""DeLTA from the reconstructed workbook tables: clips as published, responses, labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mosaiq.api import load
from mosaiq.sources.delta import LABEL_COLUMNS


@pytest.fixture(scope="module")
def survey(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "DeLTA/DeLTA-Survey-Responses_2021-07-28.csv")


@pytest.fixture(scope="module")
def collapsed(shared_data) -> pd.DataFrame:
    return pd.read_csv(
        shared_data / "DeLTA/DeLTA-collapsed-majority_2022-08-09.csv", dtype={"annoyance": str}
    )


def test_counts(built_all):
    clips = load("DeLTA", "clips", root=built_all)
    responses = load("DeLTA", "responses", root=built_all)
    assert len(clips) == 2890 and len(responses) == 11650
    assert len(load("DeLTA", "exclusions", root=built_all)) == 0
    assert clips["n_responses"].value_counts().sort_index().to_dict() == {
        3: 190,
        4: 2470,
        5: 190,
        6: 30,
        7: 10,
    }


def test_flags_and_participants(built_all):
    responses = load("DeLTA", "responses", root=built_all)
    flags = responses["source_flags"].fillna("")
    assert flags.str.contains("annoyance_missing").sum() == 12
    assert responses["annoyance"].isna().sum() == 12
    assert flags.str.contains("no_source_label").sum() == 22
    clips = load("DeLTA", "clips", root=built_all)
    assert clips["source_flags"].fillna("").eq("no_source_label").sum() == 18
    shared_id = responses[responses["participant_id"].str.startswith("DeLTA_37366_")]
    assert shared_id["participant_id"].nunique() == 2  # one ID, two people
    for col in ("start_time", "end_time", "age", "tree_node_key"):
        assert col not in responses.columns


def test_clips_keep_the_published_values_in_full_precision(built_all, collapsed):
    clips = load("DeLTA", "clips", root=built_all).set_index("recording")
    src = collapsed.set_index("recording")
    assert (
        clips.loc[src.index, "annoyance_published"].to_numpy()
        == src["annoyance"].astype(float).to_numpy()
    ).all()
    # the text written reads back to exactly the published number: no rounding on the way
    text = pd.read_csv(built_all / "datasets/DeLTA/data/clips.csv", dtype=str)
    written = text.set_index("recording").loc[src.index, "annoyance_published"]
    assert (written.to_numpy() == [repr(float(v)) for v in src["annoyance"]]).all()


def test_recomputed_means_and_majority_labels_agree_with_the_workbook(built_all, survey, collapsed):
    clips = load("DeLTA", "clips", root=built_all).set_index("recording")
    by_clip = survey.groupby("recording")
    np.testing.assert_allclose(
        clips.loc[by_clip.groups.keys(), "mean_annoyance"], by_clip["annoyance"].mean(), atol=1e-9
    )
    np.testing.assert_allclose(clips["mean_annoyance"], clips["annoyance_published"], rtol=5e-6)
    shares = by_clip[list(LABEL_COLUMNS)].mean()
    for label, col in LABEL_COLUMNS.items():
        np.testing.assert_allclose(clips.loc[shares.index, f"mean_{col}"], shares[label], atol=1e-9)
        assert (
            clips.loc[collapsed["recording"], col].to_numpy() == collapsed[label].to_numpy()
        ).all()
    assert not clips["source_flags"].fillna("").str.contains("published").any()
