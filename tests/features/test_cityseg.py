"""Segmentation summaries from per-clip label maps, and the feature checks of validation."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

import mosaiq
from mosaiq.features import cityseg
from mosaiq.features.store import collect, read_records
from mosaiq.validate import validate_all
from tests.conftest import set_params
from tests.test_validate import edit_csv


@pytest.fixture
def sproject(built_isd, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(built_isd, root)
    masks = tmp_path / "masks"
    clips = mosaiq.load("ISD", "clips", root=root)["clip_id"].head(3).tolist()
    # clip 0: two frames as .npy; clip 1: one PNG; clip 2: no masks
    (masks / clips[0]).mkdir(parents=True)
    a = np.full((10, 10), 10, np.uint8)  # sky
    a[:4] = 0  # road
    a[4:6, :5] = 13  # car -> vehicle
    a[4:6, 5:] = 255  # ignored
    b = np.full((10, 10), 8, np.uint8)  # vegetation
    b[0, :] = 11  # person
    np.save(masks / clips[0] / "f000.npy", a)
    np.save(masks / clips[0] / "f001.npy", b)
    import cv2

    c = np.full((20, 10), 2, np.uint8)  # building
    c[:5] = 1  # sidewalk (in no group)
    cv2.imwrite(str(masks / f"{clips[1]}.png"), c)
    set_params(root, lambda p: p["cityseg"]["masks_root"].update(ISD=str(masks)))
    return root, clips


def test_summaries(sproject):
    root, clips = sproject
    summary = cityseg.run(root, "ISD")
    assert summary.done == 2 and clips[2] in summary.missing
    records = read_records(root, "ISD", "cityseg_summary").set_index("clip_id")
    first = json.loads(records.loc[clips[0], "feature_value_json"])
    counted = 190  # 2 x 100 pixels minus 10 ignored
    assert first["pixels_counted"] == counted and first["frames_used"] == 2
    assert first["class_proportions"]["vehicle"] == pytest.approx(10 / counted)
    assert first["class_proportions"]["sky"] == pytest.approx(40 / counted)
    g = first["group_ratios"]
    assert g["natural"] == pytest.approx((40 + 90) / counted)
    assert g["traffic"] == pytest.approx((40 + 10) / counted)
    assert g["human_activity"] == pytest.approx(10 / counted)
    assert g["built"] == 0
    second = json.loads(records.loc[clips[1], "feature_value_json"])
    assert second["group_ratios"]["built"] == pytest.approx(0.75)
    assert sum(second["group_ratios"].values()) == pytest.approx(0.75)  # sidewalk: no group
    collect(root, "ISD")
    assert validate_all(root, ["ISD"]).valid


def test_large_summaries_are_stored_by_path(sproject):
    root, _clips = sproject
    set_params(root, lambda p: p["cityseg"].update(inline_bytes=10))
    cityseg.run(root, "ISD")
    records = read_records(root, "ISD", "cityseg_summary")
    assert records["feature_value_json"].isna().all()
    for path in records["feature_path"]:
        assert (root / "datasets/ISD" / path).is_file()
    collect(root, "ISD")
    assert validate_all(root, ["ISD"]).valid


def test_unknown_label_ids_are_errors(sproject, tmp_path):
    root, clips = sproject
    masks = tmp_path / "masks"
    np.save(masks / clips[0] / "f002.npy", np.full((4, 4), 77, np.uint8))
    with pytest.raises(mosaiq.errors.MosaiqError, match="label id 77 is not in the class map"):
        cityseg.run(root, "ISD")


def test_validation_finds_broken_feature_records(sproject):
    root, _clips = sproject
    cityseg.run(root, "ISD")
    collect(root, "ISD")
    path = root / "datasets/ISD/data/features.csv"
    records = pd.read_csv(path, dtype=str, keep_default_na=False)
    value = json.loads(records.loc[0, "feature_value_json"])
    value["group_ratios"]["natural"] = 1.5
    edit_csv(path, 2, "feature_value_json", json.dumps(value))
    edit_csv(path, 3, "provenance_json", "{not json")
    report = validate_all(root, ["ISD"])
    errors = {(e.code, e.row, e.field) for p in report.packages for e in p.errors}
    assert ("feature-ratios", 2, "feature_value_json") in errors
    assert ("feature-provenance", 3, "provenance_json") in errors
