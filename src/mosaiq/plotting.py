"""``mosaiq.plot``: circumplex figures of MOSAIQ tables, drawn by soundscapy's plotting functions.

Nothing is re-drawn here: the table's ISO coordinates are handed to ``soundscapy.plotting``
(``scatter``, ``density``) with its circumplex grid and styling; ``hue`` and every other keyword
go to soundscapy unchanged.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mosaiq.errors import MosaiqError

KINDS = ("scatter", "density")
# (x, y) column pairs: responses carry ISOPleasant/ISOEventful, clips their means
COORDINATES = (("ISOPleasant", "ISOEventful"), ("mean_ISOPleasant", "mean_ISOEventful"))


def plot(
    data: pd.DataFrame,
    kind: str = "scatter",
    *,
    hue: str | None = None,
    title: str | None = None,
    ax: Any = None,
    **kwargs: Any,
) -> Any:
    """Draw ``data`` (a table from :func:`mosaiq.load`) on the soundscape circumplex.

    ``kind`` is ``scatter`` or ``density`` (soundscapy's functions of those names); ``hue`` names
    a column to colour by (e.g. ``LocationID`` or ``language``). Returns the matplotlib Axes.

    >>> mosaiq.plot(mosaiq.load("ISD", "clips"), "density", hue="LocationID")  # doctest: +SKIP
    """
    from soundscapy.plotting import density, scatter

    if kind not in KINDS:
        raise MosaiqError(f"plot kind {kind!r} is not one of {KINDS}")
    pair = next(((x, y) for x, y in COORDINATES if {x, y} <= set(data.columns)), None)
    if pair is None:
        raise MosaiqError(
            "the table has no ISO coordinates to plot (ISOPleasant/ISOEventful or their "
            "mean_ columns)"
        )
    if hue is not None and hue not in data.columns:
        raise MosaiqError(f"hue {hue!r} is not a column of the table")
    x, y = pair
    keep = [x, y, *([hue] if hue else [])]
    frame = data[keep].dropna(subset=[x, y])
    frame = frame.astype({x: "float64", y: "float64"})
    if hue:
        frame[hue] = frame[hue].astype("object")
    if frame.empty:
        raise MosaiqError("the table has no rows with ISO coordinates to plot")
    draw = scatter if kind == "scatter" else density
    label = title if title is not None else f"{kind} of {len(frame):,} rows"
    return draw(frame, title=label, ax=ax, x=x, y=y, hue=hue, **kwargs)
