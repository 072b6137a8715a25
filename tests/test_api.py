"""The Python API across datasets, and the catalogue's measured counts."""

from __future__ import annotations

import mosaiq
from mosaiq.catalogue import measured_counts


def test_load_all_stacks_the_shared_columns(built_all):
    clips = mosaiq.load_all("clips", root=built_all)
    assert clips["dataset_id"].value_counts().to_dict() == {
        "ARAUS": 25240,
        "DeLTA": 2890,
        "ISD": 2682,
        "SATP": 27,
    }
    # DeLTA has no PAQs, so the shared clip columns are the keys, assets and counts
    assert {"clip_id", "dataset_id", "licence_spdx", "n_responses", "video_asset"} <= set(
        clips.columns
    )
    assert "mean_ISOPleasant" not in clips.columns
    responses = mosaiq.load_all("responses", root=built_all)
    assert len(responses) == 3476 + 25240 + 19060 + 11650
    assert responses["response_id"].is_unique


def test_load_all_over_the_paq_datasets_keeps_the_iso_columns(built_all):
    frames = [mosaiq.load(ds, "clips", root=built_all) for ds in ("ISD", "ARAUS", "SATP")]
    assert all("mean_ISOPleasant" in f.columns for f in frames)
    assert all(f["mean_ISOPleasant"].dropna().between(-1, 1).all() for f in frames)


def test_catalogue_counts_are_measured_from_the_packages(built_all):
    catalogue = mosaiq.api.read_table(
        built_all / "catalogue/data/datasets.csv",
        __import__("yaml").safe_load(
            (built_all / "catalogue/schemas/datasets.schema.yaml").read_text()
        ),
    ).set_index("dataset_id")
    assert catalogue.loc["SATP", "n_clips"] == 27
    assert catalogue.loc["SATP", "n_participants"] == 707
    assert catalogue.loc["DeLTA", "n_raw_rows"] == 11650
    assert catalogue.loc["ISD", "languages"] == "cmn;eng;ita;nld;spa"
    for ds in ("ISD", "ARAUS", "SATP", "DeLTA"):
        measured = measured_counts(built_all, ds)
        assert catalogue.loc[ds, "n_responses"] == measured["n_responses"]
        assert catalogue.loc[ds, "build_status"] == "built"
