"""Dataset-agnostic harmonisation: ISO coordinates per response, clip aggregation, scale maps.

Every rule here applies to every dataset. A dataset that differs says so by data (its scale, its
languages) passed in by its adapter, never by a copy of this code.

Rounding: derived quantities (coordinates, means) are rounded to :data:`DERIVED_DECIMALS` decimal
places, so that the published CSVs do not depend on the summation order of a particular numpy
build. Source values are never rounded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from mosaiq.paq import (
    EQUAL,
    EQUAL_ANGLES,
    PAQ_IDS,
    Scale,
    angles_for_languages,
    iso_coordinates,
)

DERIVED_DECIMALS = 10
"""Decimal places of every derived number (ISO coordinates, means); far below rating precision."""

ISO_COLUMNS = ("ISOPleasant", "ISOEventful")
ISO_LANG_COLUMNS = ("ISOPleasant_lang", "ISOEventful_lang")
CLIP_ISO_COLUMNS = tuple(f"mean_{c}" for c in ISO_COLUMNS + ISO_LANG_COLUMNS)


Derived = TypeVar("Derived", np.ndarray, pd.Series, pd.DataFrame)


def round_derived(values: Derived) -> Derived:
    """``values`` rounded to :data:`DERIVED_DECIMALS` places, of the same type."""
    rounded: Derived = values.round(DERIVED_DECIMALS)
    return rounded


@dataclass(frozen=True)
class Harmonisation:
    """What a build needs to know to harmonise a dataset's ratings."""

    scale: Scale
    angle_table: str


def add_iso_coordinates(
    responses: pd.DataFrame,
    scale: Scale,
    angle_table: str,
    *,
    language: str = "language",
    centring: str = "scale_midpoint",
) -> pd.DataFrame:
    """Add equal-angle and language-angle ISO coordinates and the angle set used, per response.

    Columns added: ISOPleasant, ISOEventful (equal angles), ISOPleasant_lang, ISOEventful_lang
    (the row's language angles from ``angle_table``, centred as ``centring`` says; equal angles
    where the language has none),
    ``angle_set`` (the language code whose angles were used, or ``"equal"``) and ``paq_complete``.
    Rows missing any PAQ item get empty coordinates.
    """
    out = responses.copy(deep=False)  # new columns only: the frame's own are not copied
    paq = out[list(PAQ_IDS)].to_numpy(dtype=float)
    pleasant, eventful = iso_coordinates(paq, scale, EQUAL_ANGLES)
    # The angles of each distinct language, looked up once
    codes, langs = pd.factorize(out[language].astype("string").fillna(""))
    angles, sets_used = angles_for_languages(list(langs), angle_table)
    pleasant_l, eventful_l = iso_coordinates(paq, scale, angles, centring, sets=codes)
    angle_sets = np.asarray(sets_used, dtype=object)[codes]
    out["ISOPleasant"] = round_derived(pleasant)
    out["ISOEventful"] = round_derived(eventful)
    out["ISOPleasant_lang"] = round_derived(pleasant_l)
    out["ISOEventful_lang"] = round_derived(eventful_l)
    out["angle_set"] = angle_sets
    out["paq_complete"] = ~np.isnan(paq).any(axis=1)
    return out


HARMONISED = "_1to5"
"""Suffix of PAQ columns mapped onto 1-5 for datasets rated on another scale."""


def published_mean_columns(
    clip_columns: Iterable[str], response_columns: Iterable[str]
) -> list[str]:
    """The response columns a published clip table averages besides the PAQs and coordinates:
    those with a ``mean_<column>`` in the clip table (e.g. ``appropriate``, ``PAQ1_pleasant_1to5``).

    Read from the package as written, so that a check needs no adapter."""
    responses = set(response_columns)
    skip = {*PAQ_IDS, *ISO_COLUMNS, *ISO_LANG_COLUMNS}
    return [
        c[len("mean_") :]
        for c in clip_columns
        if c.startswith("mean_") and c[len("mean_") :] in responses - skip
    ]


def aggregate_clips(
    responses: pd.DataFrame,
    by: str | list[str] = "clip_id",
    mean_columns: tuple[str, ...] | list[str] = (),
) -> pd.DataFrame:
    """Clip-level means and counts from harmonised responses: one rule for every dataset.

    - ``n_responses``: responses published for the clip;
    - ``mean_<col>``: mean of the non-missing values of each PAQ item and of each of the
      dataset's ``mean_columns`` (e.g. ``appropriate``, ``annoyance``); empty if none;
    - with PAQ items: ``mean_ISOPleasant`` etc., the mean of the coordinates of the clip's
      *complete* responses, and ``n_complete``, how many those are.
    """
    keys = [by] if isinstance(by, str) else list(by)
    grouped = responses.groupby(keys, sort=True, dropna=False)
    size = grouped.size()
    index = size.index
    # The result is assembled once, from column arrays: one column mean at a time (pandas'
    # grouped mean holds several group-sized arrays per column it averages), no concat and
    # no reset_index copying the whole table.
    columns: dict[str, Any] = {key: index.get_level_values(i).array for i, key in enumerate(keys)}
    columns["n_responses"] = size.array
    has_paq = all(c in responses.columns for c in PAQ_IDS)
    rated = [*(PAQ_IDS if has_paq else ()), *mean_columns]
    for c in rated:
        columns[f"mean_{c}"] = round_derived(grouped[c].mean()).array
    if has_paq:
        columns["n_complete"] = grouped["paq_complete"].sum().astype("int64").array
        # NaN coordinates belong to incomplete responses; mean() skips them, so each clip's
        # ISO mean is the mean over its complete responses only.
        for c, name in zip(ISO_COLUMNS + ISO_LANG_COLUMNS, CLIP_ISO_COLUMNS, strict=True):
            columns[name] = round_derived(grouped[c].mean()).array
    return pd.DataFrame(columns, copy=False)


def linear_map(values: pd.Series | np.ndarray, source: Scale, target: Scale) -> np.ndarray:
    """The linear map that sends ``source``'s bounds onto ``target``'s (e.g. 0-100 -> 1-5)."""
    x = np.asarray(values, dtype=float)
    y = target.minimum + (x - source.minimum) * target.range / source.range
    return round_derived(y)


AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 17, "<18"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
    (65, None, "65+"),
)
"""Age bands published instead of ages (ages are quasi-identifiers)."""

AGE_BAND_LABELS = tuple(label for _, _, label in AGE_BANDS)


def age_band(ages: pd.Series) -> pd.Series:
    """Map numeric ages to :data:`AGE_BANDS` labels; missing or non-numeric ages stay empty."""
    a = pd.to_numeric(ages, errors="coerce")
    out = pd.Series(pd.NA, index=ages.index, dtype="string")
    for low, high, label in AGE_BANDS:
        mask = a >= low if high is None else (a >= low) & (a <= high)
        out[mask] = label
    return out


def straightlined(paq: pd.DataFrame, scale: Scale) -> tuple[pd.Series, pd.Series]:
    """Responses that gave the same rating to all eight items (straight-lining: opposite items
    such as pleasant and annoying rated alike).

    Returns two boolean masks: straight-lined on a non-midpoint value, and on the midpoint.
    """
    values = paq[list(PAQ_IDS)].to_numpy(dtype=float, na_value=np.nan)
    first = values[:, 0]
    # every item equal to the first (NaN equals nothing, so an incomplete row is never constant)
    constant = (values == first[:, None]).all(axis=1)
    at_midpoint = constant & (first == scale.midpoint)
    return (
        pd.Series(constant & ~at_midpoint, index=paq.index),
        pd.Series(at_midpoint, index=paq.index),
    )


__all__ = [
    "AGE_BANDS",
    "AGE_BAND_LABELS",
    "CLIP_ISO_COLUMNS",
    "DERIVED_DECIMALS",
    "EQUAL",
    "HARMONISED",
    "ISO_COLUMNS",
    "ISO_LANG_COLUMNS",
    "Harmonisation",
    "add_iso_coordinates",
    "age_band",
    "aggregate_clips",
    "linear_map",
    "published_mean_columns",
    "round_derived",
    "straightlined",
]
