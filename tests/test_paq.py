"""ISO/TS 12913-3 coordinates: the closed formula, language angles, scales, missing items."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mosaiq.paq import (
    ANGLE_TABLES,
    EQUAL,
    EQUAL_ANGLES,
    LIKERT_5,
    PAQ_IDS,
    SLIDER_100,
    Scale,
    angles_for_languages,
    iso_coordinates,
    iso_formula,
)

C45 = math.cos(math.radians(45))


def sources_formula(pl, vi, ev, ch, an, mo, ue, ca):
    """The formula exactly as written in SOURCES.md (1-5 scale), independent of paq.py."""
    p = ((pl - an) + C45 * (ca - ch) + C45 * (vi - mo)) / (4 + math.sqrt(32))
    e = ((ev - ue) + C45 * (ch - ca) + C45 * (vi - mo)) / (4 + math.sqrt(32))
    return p, e


def test_equal_angles_give_the_iso_formula_on_every_response():
    rng = np.random.default_rng(12913)
    paq = rng.integers(1, 6, size=(5000, 8)).astype(float)
    p, e = iso_coordinates(paq, LIKERT_5, EQUAL_ANGLES)
    expected = np.array([sources_formula(*row) for row in paq])
    np.testing.assert_allclose(p, expected[:, 0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(e, expected[:, 1], rtol=0, atol=1e-15)
    # and the module's own reference formula agrees too
    assert iso_formula(paq[0]) == pytest.approx(sources_formula(*paq[0]), abs=1e-15)


def test_hand_computed_values_and_extremes():
    # pleasant 5, vibrant 3, eventful 3, chaotic 1, annoying 1, monotonous 3, uneventful 3, calm 5
    p, e = iso_coordinates(np.array([[5, 3, 3, 1, 1, 3, 3, 5]]), LIKERT_5)
    assert p[0] == pytest.approx((4 + 4 * C45) / (4 + math.sqrt(32)), abs=1e-15)
    assert p[0] == pytest.approx(math.sqrt(0.5), abs=1e-15)
    assert e[0] == pytest.approx(-4 * C45 / (4 + math.sqrt(32)), abs=1e-15)
    best = np.array([[5, 5, 3, 1, 1, 1, 3, 5]])
    assert iso_coordinates(best, LIKERT_5)[0][0] == pytest.approx(1.0, abs=1e-15)
    worst = np.array([[1, 1, 3, 5, 5, 5, 3, 1]])
    assert iso_coordinates(worst, LIKERT_5)[0][0] == pytest.approx(-1.0, abs=1e-15)


def test_any_scale_range_gives_the_same_coordinates_after_a_linear_map():
    rng = np.random.default_rng(3)
    paq5 = rng.integers(1, 6, size=(200, 8)).astype(float)
    paq100 = (paq5 - 1) * 25  # 1-5 onto 0-100
    for angles in (EQUAL_ANGLES, ANGLE_TABLES["aletta2024"]["cmn"]):
        a = iso_coordinates(paq5, LIKERT_5, angles)
        b = iso_coordinates(paq100, SLIDER_100, angles)
        np.testing.assert_allclose(a, b, atol=1e-12)
    odd = Scale(-2, 2)
    np.testing.assert_allclose(
        iso_coordinates(paq5 - 3, odd), iso_coordinates(paq5, LIKERT_5), atol=1e-12
    )


def test_language_angles_are_centred_on_the_scale_midpoint():
    eng = ANGLE_TABLES["aletta2024"]["eng"]
    # All-midpoint responses sit at the origin whatever the angles.
    p, e = iso_coordinates(np.full((1, 8), 3.0), LIKERT_5, eng)
    assert (p[0], e[0]) == (0.0, 0.0)
    # A constant response off the midpoint is not at the origin with unequal angles: the
    # projection of (x - m) computed by hand from the published eng angles.
    x = np.array([4, 4, 4, 4, 4, 4, 4, 4], dtype=float)
    cos = [math.cos(math.radians(a)) for a in eng]
    sin = [math.sin(math.radians(a)) for a in eng]
    want_p = sum(c * (v - 3) for c, v in zip(cos, x, strict=True)) / (2 * sum(map(abs, cos)))
    want_e = sum(s * (v - 3) for s, v in zip(sin, x, strict=True)) / (2 * sum(map(abs, sin)))
    p, e = iso_coordinates(x[None, :], LIKERT_5, eng)
    assert p[0] == pytest.approx(want_p, abs=1e-14)
    assert e[0] == pytest.approx(want_e, abs=1e-14)
    assert abs(p[0]) > 1e-3  # soundscapy's per-row centring would give 0 here


def test_hand_computed_language_angle_row_cmn():
    # One cmn response; angles 0 18 38 154 171 196 217 318 (Aletta et al. 2024).
    x = [4, 2, 5, 1, 2, 3, 4, 5]
    ang = (0, 18, 38, 154, 171, 196, 217, 318)
    cos = [math.cos(math.radians(a)) for a in ang]
    sin = [math.sin(math.radians(a)) for a in ang]
    num_p = sum(c * (v - 3) for c, v in zip(cos, x, strict=True))
    num_e = sum(s * (v - 3) for s, v in zip(sin, x, strict=True))
    angles, sets = angles_for_languages(["cmn"], "aletta2024")
    p, e = iso_coordinates(np.array([x], dtype=float), LIKERT_5, angles)
    assert sets == ["cmn"]
    assert p[0] == pytest.approx(num_p / (2 * sum(map(abs, cos))), abs=1e-14)
    assert e[0] == pytest.approx(num_e / (2 * sum(map(abs, sin))), abs=1e-14)


def test_missing_item_gives_no_coordinates_never_zero():
    paq = np.array([[3, 3, 3, 3, 3, 3, 3, np.nan], [3] * 8], dtype=float)
    p, e = iso_coordinates(paq, LIKERT_5)
    assert np.isnan(p[0])
    assert np.isnan(e[0])
    assert p[1] == 0.0


def test_languages_without_angles_fall_back_to_equal_and_say_so():
    angles, sets = angles_for_languages(["eng", "fra", "vie", ""], "aletta2024")
    assert sets == ["eng", EQUAL, EQUAL, EQUAL]
    np.testing.assert_array_equal(angles[1], EQUAL_ANGLES)
    np.testing.assert_array_equal(angles[0], ANGLE_TABLES["aletta2024"]["eng"])


def test_the_two_published_tables_differ_in_exactly_two_cells():
    a, b = ANGLE_TABLES["aletta2024"], ANGLE_TABLES["satp_sem"]
    diffs = [
        (lang, i, a[lang][i], b[lang][i])
        for lang in a
        for i in range(8)
        if a[lang][i] != b[lang][i]
    ]
    assert sorted(diffs) == [("eng", 5, 241, 231), ("ita", 3, 143, 142)]
    assert len(a) == 12


def test_unknown_angle_table_is_refused():
    with pytest.raises(ValueError, match="unknown angle table"):
        angles_for_languages(["eng"], "nope")


def test_vocabulary_is_in_circumplex_order():
    assert PAQ_IDS == (
        "PAQ1_pleasant",
        "PAQ2_vibrant",
        "PAQ3_eventful",
        "PAQ4_chaotic",
        "PAQ5_annoying",
        "PAQ6_monotonous",
        "PAQ7_uneventful",
        "PAQ8_calm",
    )
