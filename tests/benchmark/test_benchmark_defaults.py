"""Defaults a reviewer accepts: all-midpoint responses are kept (soundscapy's rule), and the
language-angle coordinates can be centred on each response's own mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from mosaiq.paq import ANGLE_TABLES, EQUAL_ANGLES, LIKERT_5, elevation_effect, iso_coordinates
from tests.conftest import REPO


def test_the_default_keeps_all_midpoint_responses():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert params["build"]["harmonise"]["quality"]["straightlining"] == "keep_midpoint"
    assert params["build"]["harmonise"]["centring"] == "scale_midpoint"
    # the committed ISD package is built with it: midpoint responses are in, others out
    exclusions = pd.read_csv(REPO / "datasets/ISD/data/exclusions.csv", dtype=str)
    assert "straightlined_midpoint" not in set(exclusions["reason_code"])
    assert "straightlined" in set(exclusions["reason_code"])
    responses = pd.read_csv(REPO / "datasets/ISD/data/responses.csv")
    paq = responses[[c for c in responses.columns if c.startswith("PAQ")][:8]]
    assert paq.eq(3).all(axis=1).sum() > 0


def test_row_mean_centring_is_free_of_the_rating_level():
    rng = np.random.default_rng(3)
    x = rng.integers(1, 4, size=(50, 8)).astype(float)
    shifted = x + 2  # every item two points higher: same profile, higher level
    for lang in ("tur", "nld", "ita"):
        angles = ANGLE_TABLES["aletta2024"][lang]
        p0, e0 = iso_coordinates(x, LIKERT_5, angles, "row_mean")
        p1, e1 = iso_coordinates(shifted, LIKERT_5, angles, "row_mean")
        np.testing.assert_allclose([p0, e0], [p1, e1], atol=1e-12)
        m0, _ = iso_coordinates(x, LIKERT_5, angles)
        m1, _ = iso_coordinates(shifted, LIKERT_5, angles)
        # scale-midpoint centring moves with the level by the sum of the cosine weights
        cos_sum, _ = elevation_effect(angles)
        np.testing.assert_allclose(m1 - m0, cos_sum, atol=1e-12)  # +2 = half the range
        assert abs(cos_sum) > 0.15
    # equal angles: both centrings give the ISO/TS 12913-3 coordinates
    a = iso_coordinates(x, LIKERT_5, EQUAL_ANGLES)
    b = iso_coordinates(x, LIKERT_5, EQUAL_ANGLES, "row_mean")
    np.testing.assert_allclose(a, b, atol=1e-12)
    with pytest.raises(ValueError, match="unknown centring 'median'"):
        iso_coordinates(x, LIKERT_5, EQUAL_ANGLES, "median")
